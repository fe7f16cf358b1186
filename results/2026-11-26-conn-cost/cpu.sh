#!/bin/bash
# CPU per message, baseline (main) vs this branch, pinned, interleaved, 3 repeats.
set -u
cd /work/issue-17
NEW=target/release/serve
OLD=target/base-main/release/serve
LG=target/release/loadgen
R=/tmp/i17/res
ulimit -n 20000
start_server() { local bin=$1 imp=$2 app=$3; shift 3
  taskset -c 0 $bin --impl $imp --app $app "$@" > /tmp/i17/srv.out 2>/tmp/i17/srv.err &
  pid=$!
  for i in $(seq 100); do grep -q listening /tmp/i17/srv.out 2>/dev/null && break; sleep 0.1; done
  addr=$(awk '{print $4}' /tmp/i17/srv.out); }
stop_server() { kill -TERM $pid 2>/dev/null; wait $pid; }
for rep in 1 2 3; do
 for imp in tokio async-std smol mio; do
  for build in old new; do
   bin=$NEW; [ $build = old ] && bin=$OLD
   start_server $bin $imp echo
   timeout 60 $LG echo --addr $addr --conns 100 --size 64 --duration 5s --warmup 1s --server-pid $pid --cpus 1 \
      --json $R/cpu-echo-$imp-$build-$rep.json --quiet --allow-errors
   echo "cpu echo $imp $build $rep rc=$?"; stop_server
  done
 done
 for imp in tokio smol mio uring threads; do
  for build in old new; do
   bin=$NEW; [ $build = old ] && bin=$OLD
   start_server $bin $imp chat
   timeout 60 $LG chat --addr $addr --rooms 1 --members 100 --senders 10 --rate 2000 --duration 5s --warmup 1s --server-pid $pid --cpus 1 \
      --json $R/cpu-chat-$imp-$build-$rep.json --quiet --allow-errors
   echo "cpu chat $imp $build $rep rc=$?"; stop_server
  done
 done
done
echo CPU-DONE
