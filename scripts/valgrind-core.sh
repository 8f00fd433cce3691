#!/usr/bin/env bash
# Runs the core test matrix (tests/coroutine.rs: every backend, panics, drop
# unwinding, reset, pools, nesting) and the runtime's task tests
# (tests/rt_tasks.rs) under Valgrind memcheck, against a build with the
# `valgrind` feature, which registers each coroutine stack with
# VALGRIND_STACK_REGISTER so memcheck follows the switches.  Any memcheck
# error fails the run (--error-exitcode=1).  Without the feature memcheck
# takes every switch for a huge stack frame and floods with "Invalid read".
#
# Skipped: the three `hundred_thousand` scale tests (100,000 live coroutines
# each).  They test capacity, not memory safety -- every operation they do
# is covered by smaller tests in the same file -- and memcheck makes them
# take more than 20 minutes; everything else takes seconds.
# Needs valgrind (Debian: apt-get install valgrind). Used by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
target=target/valgrind
tests=(coroutine rt_tasks)
args=()
for t in "${tests[@]}"; do args+=(--test "$t"); done
build_log=$(CARGO_TARGET_DIR=$target cargo test --features valgrind "${args[@]}" \
  --no-run 2>&1) || { echo "$build_log" >&2; exit 1; }
total=0
for t in "${tests[@]}"; do
  # cargo prints "Executable tests/<t>.rs (target/valgrind/debug/deps/<t>-<hash>)".
  exe=$(sed -n "s|.*Executable tests/$t\.rs (\(.*\))|\1|p" <<<"$build_log")
  [[ -x "$exe" ]] || { echo "error: no test executable for tests/$t.rs" >&2; exit 1; }
  echo "--- valgrind $exe"
  log=$(mktemp)
  trap 'rm -f "$log"' EXIT
  valgrind --quiet --error-exitcode=1 "$exe" --test-threads=2 --skip hundred_thousand \
    2>&1 | tee "$log"
  passed=$(sed -n 's/^test result: ok\. \([0-9]*\) passed.*/\1/p' "$log")
  total=$((total + ${passed:-0}))
done
echo "valgrind: ${tests[*]}: $total tests passed, no memcheck errors (hundred_thousand skipped)"
