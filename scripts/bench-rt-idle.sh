#!/usr/bin/env bash
# Memory per idle connection: the echo server (one worker, pinned to CPU 0)
# holds N connections opened by echo_client --idle (CPU 1); prints the
# server's RSS before and while they are held, and the difference per
# connection.
#
#   scripts/bench-rt-idle.sh            # 10,000 connections, sjlj, 16K stacks
#   N=5000 BACKEND=ucontext STACK=64K scripts/bench-rt-idle.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-10000}
BACKEND=${BACKEND:-sjlj}
STACK=${STACK:-16K}
PORT=${PORT:-7400}
cargo build --release --example echo_server --example echo_client >/dev/null 2>&1
ex=target/release/examples
ulimit -n "$(ulimit -Hn)"
taskset -c 0 $ex/echo_server --addr 127.0.0.1:$PORT --threads 1 --backend "$BACKEND" \
  --stack-size "$STACK" >/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
sleep 0.5
rss() { awk '/VmRSS/ {print $2}' /proc/$pid/status; }
before=$(rss)
taskset -c 1 $ex/echo_client --addr 127.0.0.1:$PORT --connections "$N" --idle \
  --warmup 0 --duration 6 &
client=$!
sleep 5
during=$(rss)
wait $client
echo "connections=$N backend=$BACKEND stack=$STACK rss_before_kib=$before rss_held_kib=$during per_conn_bytes=$(( (during - before) * 1024 / N ))"
