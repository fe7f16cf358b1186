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
for imp in threads tokio async-std smol mio uring; do
  start_server $NEW $imp echo --max-conns 30000
  timeout 180 $LG ceiling --addr $addr --conns 19936 --hold 3s --probes-per-conn 1 --connect-rate 10000 --max-conns 30000 \
    --server-pid $pid --cpus 1 --source-ips $SRC --json $R/ceiling-echo-$imp.json --allow-errors --connect-timeout 20s
  echo "ceiling echo $imp rc=$?"; stop_server
done
echo CEILING2-DONE
