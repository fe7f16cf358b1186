#!/bin/bash
# threads: conformance at small stacks; idle at 10 000 (echo) / 8 000 (chat) at default and smallest stack.
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
for st in 16384 32768; do for app in echo chat; do
  start_server $NEW threads $app --stack-size $st --max-conns 50
  timeout 300 target/debug/conformance --addr $addr --app $app --max-conns 50 > $R/conformance-threads-$app-$st.txt 2>&1
  echo "conformance threads $app stack $st rc=$?"; tail -1 $R/conformance-threads-$app-$st.txt; stop_server
done; done
for rep in 1 2 3; do for st in 65536 16384; do
  start_server $NEW threads echo --max-conns 30000 --stack-size $st
  timeout 120 $LG conns --addr $addr --conns 10000 --hold 3s --probes-per-conn 1 --server-pid $pid --cpus 1 \
     --source-ips $SRC --connect-rate 20000 --json $R/threadstack-echo-$st-$rep.json --quiet --allow-errors
  echo "idle threads echo stack $st $rep rc=$?"; stop_server
  start_server $NEW threads chat --max-conns 30000 --stack-size $st
  timeout 120 $LG chat --addr $addr --rooms 8000 --members 1 --senders 1 --rate 1 --duration 3s --warmup 0s --server-pid $pid --cpus 1 \
     --source-ips $SRC --connect-rate 20000 --json $R/threadstack-chat-$st-$rep.json --quiet --allow-errors
  echo "idle threads chat stack $st $rep rc=$?"; stop_server
done; done
echo THREADS-DONE
