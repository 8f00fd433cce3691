#!/usr/bin/env bash
# Runs the C API's test programs (core tier, bodies jumping out of their
# coroutines, runtime tier, task handles, channels, registered I/O) and the
# generator and fan_out examples under Valgrind memcheck (errors and definite
# leaks fail), each linked once with the static and once with the shared
# library of a build with the `valgrind` feature, which registers coroutine
# stacks so memcheck follows the switches.
# Needs valgrind (Debian: apt-get install valgrind). Used by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
target=target/valgrind
CARGO_TARGET_DIR=$target cargo build --quiet --release --lib --features valgrind
out=$target/c
mkdir -p "$out"
static_libs=(-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc)
programs=(
  tests/c/api_test.c
  tests/c/escape_test.c
  tests/c/runtime_test.c
  tests/c/task_test.c
  tests/c/chan_test.c
  tests/c/fdio_test.c
  examples/c/generator.c
  examples/c/fan_out.c
)
for prog in "${programs[@]}"; do
  name="$(basename "$prog" .c)"
  # Linked with libjmpco.a, then with libjmpco.so (found through the rpath).
  cc -std=c11 -Wall -Wextra -Werror -pedantic -O1 -g -Iinclude -o "$out/$name" "$prog" \
    "$target/release/libjmpco.a" "${static_libs[@]}"
  cc -std=c11 -Wall -Wextra -Werror -pedantic -O1 -g -Iinclude -o "$out/$name-shared" "$prog" \
    -L"$target/release" -ljmpco -Wl,-rpath,"$(realpath "$target/release")"
  for exe in "$out/$name" "$out/$name-shared"; do
    echo "--- valgrind $exe"
    valgrind --quiet --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
      "$exe"
  done
done
echo "valgrind: no memcheck errors, no definite leaks (static and shared library)"
