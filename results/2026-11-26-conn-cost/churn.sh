#!/bin/bash
set -u
cd /work/issue-17
NEW=target/release/serve
LG=target/release/loadgen
R=/tmp/i17/res
ulimit -n 20000
start_server() { local bin=$1 imp=$2 app=$3; shift 3
  taskset -c 0 $bin --impl $imp --app $app "$@" > /tmp/i17/srv.out 2>/tmp/i17/srv.err &
  pid=$!
  for i in $(seq 100); do grep -q listening /tmp/i17/srv.out 2>/dev/null && break; sleep 0.1; done
  addr=$(awk '{print $4}' /tmp/i17/srv.out); }
stop_server() { kill -TERM $pid 2>/dev/null; wait $pid; }
SRC=127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5
for rep in 1 2 3; do
 for rate in 1000 4000; do
  for app in echo chat; do
   for imp in threads tokio async-std smol mio uring; do
    start_server $NEW $imp $app
    timeout 60 $LG churn --addr $addr --app $app --rate $rate --duration 3s --server-pid $pid --cpus 1 --source-ips $SRC \
      --json $R/churn-$app-$rate-$imp-$rep.json --quiet --allow-errors
    echo "churn $app $rate $imp $rep rc=$?"; stop_server
   done
  done
 done
done
echo CHURN-DONE
