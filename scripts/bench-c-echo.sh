#!/usr/bin/env bash
# Echo ping-pong throughput of the C echo server (examples/c/echo_server.c,
# the C API's runtime tier) beside the Rust one (examples/echo_server.rs,
# one worker), measured the same way in the same session: server pinned to
# CPU 0, client (examples/echo_client.rs) to CPU 1, CONNS connections,
# 512-byte messages, WARMUP s then DURATION s measured; RUNS runs per server,
# interleaved so machine noise hits both alike. Prints each run's client
# line and the server's CPU time per request over the measured window
# (utime + stime from /proc/PID/stat), then the medians per server.
#
#   scripts/bench-c-echo.sh              # RUNS=3 CONNS=100 DURATION=10 WARMUP=2
#
# Builds into $CARGO_TARGET_DIR (default target). Needs taskset
# (util-linux) and make.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
CONNS=${CONNS:-100}
cargo build --release --lib --example echo_server --example echo_client >/dev/null 2>&1
make -s -C examples/c echo_server >/dev/null
ex=${CARGO_TARGET_DIR:-target}/release/examples
port=7400
tck=$(getconf CLK_TCK)
declare -A rps cpu
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

run_one() { # name, port, server command...
  local name=$1 p=$2; shift 2
  taskset -c 0 "$@" >/dev/null 2>&1 &
  local pid=$!
  sleep 0.5
  local out t0 t1 line reqs us
  out=$(mktemp)
  taskset -c 1 $ex/echo_client --addr 127.0.0.1:"$p" --connections "$CONNS" \
    --size 512 --warmup "$WARMUP" --duration "$DURATION" >"$out" &
  local client=$!
  sleep "$WARMUP"; t0=$(cpu_ticks "$pid")
  wait "$client"; t1=$(cpu_ticks "$pid")
  line=$(cat "$out"); rm -f "$out"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  reqs=$(sed 's/.*requests=\([0-9]*\).*/\1/' <<<"$line")
  us=$(awk -v d=$((t1 - t0)) -v t="$tck" -v r="$reqs" 'BEGIN {printf "%.2f", d / t * 1e6 / r}')
  printf '%-8s %s server_cpu_us_per_req=%s\n' "$name" "$line" "$us"
  rps[$name]+="$(sed 's/.*rps=\([0-9.]*\).*/\1/' <<<"$line") "
  cpu[$name]+="$us "
}

for _ in $(seq "$RUNS"); do
  port=$((port + 1)); run_one c "$port" examples/c/echo_server "$port"
  port=$((port + 1)); run_one rust "$port" $ex/echo_server --addr 127.0.0.1:$port --threads 1
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for name in c rust; do
  # shellcheck disable=SC2086
  printf 'median rps %-5s %s   (runs: %s)   median server CPU us/req %s   (runs: %s)\n' \
    "$name" "$(median ${rps[$name]})" "${rps[$name]% }" "$(median ${cpu[$name]})" "${cpu[$name]% }"
done
