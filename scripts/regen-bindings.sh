#!/usr/bin/env bash
# Regenerates src/sys/bindings.rs from csrc/jmpco_switch.h with bindgen.
# Needs libclang (Debian: apt-get install libclang-dev).
# Usage: scripts/regen-bindings.sh [--check]
#   --check  write to a temporary file and fail if it differs from the committed one.
set -euo pipefail
cd "$(dirname "$0")/.."
target=src/sys/bindings.rs
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# Touch the header so build.rs reruns even when nothing else changed.
touch csrc/jmpco_switch.h
JMPCO_BINDINGS_OUT="$out" cargo build --quiet --lib --features bindgen
if [[ "${1:-}" == "--check" ]]; then
  if ! diff -u "$target" "$out"; then
    echo "error: $target differs from fresh bindgen output; run scripts/regen-bindings.sh" >&2
    exit 1
  fi
  echo "bindings: $target matches fresh bindgen output"
else
  cp "$out" "$target"
  echo "bindings: wrote $target"
fi
