#!/usr/bin/env bash
# Installs jmpco's C API: include/jmpco.h, libjmpco.a, libjmpco.so and a
# pkg-config file generated from jmpco.pc.in, under PREFIX.
#
# Usage: scripts/install-c.sh [PREFIX] [LIBDIR]
#   PREFIX  default /usr/local (then: cc app.c $(pkg-config --cflags --libs jmpco))
#   LIBDIR  where the built libraries are; default target/release
#           (build them first with `cargo build --release`)
# With a PREFIX outside the system paths, point pkg-config and the loader at it:
#   PKG_CONFIG_PATH=PREFIX/lib/pkgconfig, and LD_LIBRARY_PATH=PREFIX/lib (or
#   link with -Wl,-rpath,PREFIX/lib) for the shared library.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
prefix="${1:-/usr/local}"
libdir="${2:-$root/target/release}"
for lib in libjmpco.a libjmpco.so; do
  if [[ ! -f "$libdir/$lib" ]]; then
    echo "error: $libdir/$lib is missing: run 'cargo build --release' first" >&2
    exit 1
  fi
done
version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -n1)"
install -d "$prefix/include" "$prefix/lib/pkgconfig"
install -m 644 "$root/include/jmpco.h" "$prefix/include/jmpco.h"
install -m 644 "$libdir/libjmpco.a" "$prefix/lib/libjmpco.a"
install -m 755 "$libdir/libjmpco.so" "$prefix/lib/libjmpco.so"
sed -e "s|@PREFIX@|$prefix|g" -e "s|@VERSION@|$version|g" "$root/jmpco.pc.in" \
  > "$prefix/lib/pkgconfig/jmpco.pc"
echo "installed jmpco $version C API under $prefix"
