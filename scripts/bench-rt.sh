#!/usr/bin/env bash
# Echo ping-pong benchmark of the runtime: server pinned to CPU 0, client to
# CPU 1, 512-byte messages, a warm-up then a measured run, RUNS runs per
# configuration, interleaved so machine noise hits every server alike.
#
#   scripts/bench-rt.sh                  # jmpco sjlj and ucontext
#   TOKIO_ECHO=/path/to/tokio-echo scripts/bench-rt.sh   # plus a tokio server
#
# TOKIO_ECHO is any echo server binary taking its address as first argument
# (the study issue adds one to the repository; until then, a throwaway
# tokio current_thread crate). Prints one line per run; the medians are
# left to the reader (or `sort -n`).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
CONNS=${CONNS:-"100 1000"}
cargo build --release --example echo_server --example echo_client >/dev/null 2>&1
ex=target/release/examples
port=7300

run_one() { # name, server command...
  local name=$1; shift
  port=$((port + 1))
  taskset -c 0 "$@" >/dev/null 2>&1 &
  local pid=$!
  sleep 0.5
  local line
  line=$(taskset -c 1 $ex/echo_client --addr 127.0.0.1:$port --connections "$conns" \
    --size 512 --warmup "$WARMUP" --duration "$DURATION")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  printf '%-14s %s\n' "$name" "$line"
}

for conns in $CONNS; do
  for run in $(seq "$RUNS"); do
    run_one jmpco-sjlj $ex/echo_server --addr 127.0.0.1:$((port + 1)) --threads 1 --backend sjlj
    if [[ -n "${TOKIO_ECHO:-}" ]]; then
      run_one tokio-ct "$TOKIO_ECHO" 127.0.0.1:$((port + 1))
    fi
    run_one jmpco-ucontext $ex/echo_server --addr 127.0.0.1:$((port + 1)) --threads 1 --backend ucontext
  done
done
