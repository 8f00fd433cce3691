#!/usr/bin/env bash
# Echo ping-pong throughput of the C echo server (examples/c/echo_server.c,
# the C API's runtime tier) beside the Rust one (examples/echo_server.rs,
# one worker), measured the same way in the same session: server pinned to
# CPU 0, client (examples/echo_client.rs) to CPU 1, CONNS connections,
# 512-byte messages, WARMUP s then DURATION s measured; RUNS runs per server,
# interleaved so machine noise hits both alike. Prints each run's client
# line, then the median rps per server.
#
#   scripts/bench-c-echo.sh              # RUNS=3 CONNS=100 DURATION=10 WARMUP=2
#
# Needs taskset (util-linux) and make.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
CONNS=${CONNS:-100}
cargo build --release --lib --example echo_server --example echo_client >/dev/null 2>&1
make -s -C examples/c echo_server >/dev/null
ex=target/release/examples
port=7400
declare -A rps

run_one() { # name, port, server command...
  local name=$1 p=$2; shift 2
  taskset -c 0 "$@" >/dev/null 2>&1 &
  local pid=$!
  sleep 0.5
  local line
  line=$(taskset -c 1 $ex/echo_client --addr 127.0.0.1:"$p" --connections "$CONNS" \
    --size 512 --warmup "$WARMUP" --duration "$DURATION")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  printf '%-8s %s\n' "$name" "$line"
  rps[$name]+="$(sed 's/.*rps=\([0-9.]*\).*/\1/' <<<"$line") "
}

for _ in $(seq "$RUNS"); do
  port=$((port + 1)); run_one c "$port" examples/c/echo_server "$port"
  port=$((port + 1)); run_one rust "$port" $ex/echo_server --addr 127.0.0.1:$port --threads 1
done
for name in c rust; do
  # shellcheck disable=SC2086
  median=$(printf '%s\n' ${rps[$name]} | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  printf 'median rps %-5s %s   (runs: %s)\n' "$name" "$median" "${rps[$name]% }"
done
