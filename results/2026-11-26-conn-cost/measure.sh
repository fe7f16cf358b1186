#!/bin/bash
# Idle scale (echo + chat, 10 000 conns, 3 repeats, variants interleaved), churn, ceiling.
set -u
cd /work/issue-17
NEW=target/release/serve
LG=target/release/loadgen
R=/tmp/i17/res
ulimit -n 20000
start_server() { # serve impl app [args] -> sets pid addr
  local bin=$1 imp=$2 app=$3; shift 3
  taskset -c 0 $bin --impl $imp --app $app "$@" > /tmp/i17/srv.out 2>/tmp/i17/srv.err &
  pid=$!
  for i in $(seq 100); do grep -q listening /tmp/i17/srv.out 2>/dev/null && break; sleep 0.1; done
  addr=$(awk '{print $4}' /tmp/i17/srv.out)
}
stop_server() { kill -TERM $pid 2>/dev/null; wait $pid; }
SRC=127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5
IMPLS="threads tokio async-std smol mio uring"
# 1. idle scale
for rep in 1 2 3; do
 for app in echo chat; do
  for imp in $IMPLS; do
   start_server $NEW $imp $app --max-conns 30000
   if [ $app = echo ]; then
     timeout 120 $LG conns --addr $addr --conns 10000 --hold 3s --probes-per-conn 1 --server-pid $pid --cpus 1 \
       --source-ips $SRC --connect-rate 20000 --json $R/idle-$app-$imp-$rep.json --quiet --allow-errors
   else
     timeout 120 $LG chat --addr $addr --rooms 10000 --members 1 --senders 1 --rate 1 --duration 3s --warmup 0s --server-pid $pid --cpus 1 \
       --source-ips $SRC --connect-rate 20000 --json $R/idle-$app-$imp-$rep.json --quiet --allow-errors
   fi
   echo "idle $app $imp $rep rc=$?"
   stop_server
  done
 done
done
echo IDLE-DONE
