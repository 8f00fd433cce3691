#!/usr/bin/env bash
# Regenerates include/jmpco.h from src/ffi/ with cbindgen (config: cbindgen.toml),
# through the test that otherwise checks it (tests/c_header.rs).
# Usage: scripts/regen-header.sh
set -euo pipefail
cd "$(dirname "$0")/.."
JMPCO_WRITE_HEADER=1 cargo test --quiet --test c_header -- --nocapture
