#!/usr/bin/env bash
# The mio variant against tokio and the textbook mio (and tokio) echo servers: echo closed loop at 100
# connections (server CPU-µs per message) and idle connections (RSS per connection), interleaved per
# repeat, server pinned to CPU 0 and the generator to CPU 1. Run from the workspace root after
#   cargo build --release -p serve -p loadgen -p textbook
# Usage: results/2026-11-26-mio/measure.sh OUT_DIR [REPEATS]
# Environment: WORKERS=N passes --workers N to our servers (default: theirs, one per core);
# SCENARIOS="echo conns" (the default) picks the scenarios.
set -euo pipefail
out=${1:?usage: measure.sh OUT_DIR [REPEATS]}
repeats=${2:-5}
mkdir -p "$out"
bin=target/release
workers=(${WORKERS:+--workers "$WORKERS"})
scenarios=${SCENARIOS:-echo conns}

# start NAME CMD...: starts a server on CPU 0 at a free port; sets PID and ADDR.
start() {
  local name=$1; shift
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  ADDR=127.0.0.1:$port
  taskset -c 0 "$@" "$ADDR" >"$out/$name.stdout" 2>"$out/$name.stderr" &
  PID=$!
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "$name did not listen on $ADDR" >&2
  exit 1
}
stop() { kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }

run_server() {
  case $1 in
    mio) start "$2" "$bin/serve" --impl mio --app echo "${workers[@]}" --addr ;;
    tokio) start "$2" "$bin/serve" --impl tokio --app echo "${workers[@]}" --addr ;;
    textbook-mio) start "$2" "$bin/textbook" mio ;;
    textbook-tokio) start "$2" "$bin/textbook" tokio ;;
  esac
}

for r in $(seq "$repeats"); do
  [[ " $scenarios " == *" echo "* ]] || break
  for s in mio tokio textbook-mio textbook-tokio; do
    run_server "$s" "echo-$s-$r"
    "$bin/loadgen" echo --addr "$ADDR" --conns 100 --size 64 --duration 10s --cpus 1 \
      --server-pid "$PID" --json "$out/echo-$s-$r.json" --quiet
    stop
  done
done
for r in $(seq "$repeats"); do
  [[ " $scenarios " == *" conns "* ]] || break
  for s in mio tokio textbook-mio; do
    run_server "$s" "conns-$s-$r"
    "$bin/loadgen" conns --addr "$ADDR" --conns 9000 --hold 5s --cpus 1 \
      --server-pid "$PID" --json "$out/conns-$s-$r.json" --quiet
    stop
  done
done
