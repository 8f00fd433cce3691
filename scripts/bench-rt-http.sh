#!/usr/bin/env bash
# wrk against examples/http_hello: server (one worker) pinned to CPU 0, wrk
# to CPU 1, a 2 s warm-up then `wrk -t1 -c100 -d10s --latency`, RUNS runs
# per backend. Prints requests/s, p50, p99 and the server's CPU time per
# request. Needs wrk (`apt-get install -y wrk`).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
cargo build --release --example http_hello >/dev/null 2>&1
port=8400
for run in $(seq "$RUNS"); do
  for backend in ${BACKENDS:-sjlj ucontext}; do
    port=$((port + 1))
    taskset -c 0 target/release/examples/http_hello --addr 127.0.0.1:$port --threads 1 \
      --backend "$backend" >/dev/null 2>&1 &
    pid=$!
    sleep 0.5
    taskset -c 1 wrk -t1 -c100 -d2s http://127.0.0.1:$port/ >/dev/null
    t0=$(awk '{print $14 + $15}' /proc/$pid/stat)
    out=$(taskset -c 1 wrk -t1 -c100 -d10s --latency http://127.0.0.1:$port/)
    t1=$(awk '{print $14 + $15}' /proc/$pid/stat)
    kill "$pid"; wait "$pid" 2>/dev/null || true
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    total=$(awk '/requests in/ {print $1}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    errs=$(grep -E "Non-2xx|Socket errors" <<<"$out" | tr -s ' ' | tr '\n' ' ' || true)
    printf 'http_hello-%-8s rps=%s p50=%s p99=%s server_cpu_us_per_req=%s %s\n' "$backend" \
      "$rps" "$p50" "$p99" \
      "$(echo "scale=2; ($t1 - $t0) * 1000000 / $(getconf CLK_TCK) / $total" | bc)" "$errs"
  done
done
