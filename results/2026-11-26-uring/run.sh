#!/bin/bash
# The interleaved uring / textbook tokio echo runs of results/README.md ("uring against the textbook
# tokio server"). Usage, from the workspace root after `cargo build --release -p serve -p loadgen -p textbook`:
#   results/2026-11-26-uring/run.sh OUTDIR 5 10s
mkdir -p "$1"; out=$(realpath "$1"); reps=$2; dur=$3
cd "$(dirname "$0")/../.."
for r in $(seq 1 $reps); do
  for s in uring tbtokio; do
    if [ $s = uring ]; then
      taskset -c 0 target/release/serve --impl uring --app echo --addr 127.0.0.1:0 > $out/$s-$r.listen 2>$out/$s-$r.err &
    else
      port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
      taskset -c 0 target/release/textbook tokio 127.0.0.1:$port > $out/$s-$r.listen 2>$out/$s-$r.err &
    fi
    pid=$!
    for i in $(seq 50); do [ -s $out/$s-$r.listen ] && break; sleep 0.1; done
    if [ $s = uring ]; then addr=$(awk '{print $4}' $out/$s-$r.listen); else addr=127.0.0.1:$port; fi
    target/release/loadgen echo --addr $addr --conns 100 --size 64 --duration $dur --cpus 1 --server-pid $pid --json $out/$s-$r.json -q
    kill $pid; wait $pid 2>/dev/null
  done
done
echo done
