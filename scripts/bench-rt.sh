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
# tokio current_thread crate). Prints one line per run: the client's
# figures, and the server's CPU time per request over the measured window.
# Needs taskset (util-linux) and bc.
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
  local out=/tmp/jmpco-bench-client.$$
  taskset -c 1 $ex/echo_client --addr 127.0.0.1:$port --connections "$conns" \
    --size 512 --warmup "$WARMUP" --duration "$DURATION" >"$out" &
  local client=$!
  # The server's CPU time (utime+stime, in ticks) over the measured window:
  # a figure the machine's noise disturbs less than throughput.
  sleep "$(echo "$WARMUP + 0.2" | bc)"
  local t0 t1
  t0=$(awk '{print $14 + $15}' /proc/$pid/stat)
  sleep "$DURATION"
  t1=$(awk '{print $14 + $15}' /proc/$pid/stat)
  wait "$client"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  local line req hz
  line=$(cat "$out"); rm -f "$out"
  req=$(sed 's/.*requests=\([0-9]*\).*/\1/' <<<"$line")
  hz=$(getconf CLK_TCK)
  printf '%-14s %s server_cpu_us_per_req=%s\n' "$name" "$line" \
    "$(echo "scale=2; ($t1 - $t0) * 1000000 / $hz / $req" | bc)"
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
