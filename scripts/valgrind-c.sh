#!/usr/bin/env bash
# Runs the C API's test programs (core tier, bodies jumping out of their
# coroutines, runtime tier, registered I/O) and the generator example under Valgrind memcheck
# (errors and definite leaks fail), against a build with the `valgrind`
# feature, which registers coroutine stacks so memcheck follows the switches.
# Needs valgrind (Debian: apt-get install valgrind). Used by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
target=target/valgrind
CARGO_TARGET_DIR=$target cargo build --quiet --release --lib --features valgrind
out=$target/c
mkdir -p "$out"
static_libs=(-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc)
for prog in tests/c/api_test.c tests/c/escape_test.c tests/c/runtime_test.c tests/c/fdio_test.c \
    examples/c/generator.c; do
  exe="$out/$(basename "$prog" .c)"
  cc -std=c11 -Wall -Wextra -Werror -pedantic -O1 -g -Iinclude -o "$exe" "$prog" \
    "$target/release/libjmpco.a" "${static_libs[@]}"
  echo "--- valgrind $exe"
  valgrind --quiet --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
    "$exe"
done
echo "valgrind: no memcheck errors, no definite leaks"
