#!/usr/bin/env bash
# Installs libdfd under PREFIX:
#   include/dfd.h, include/dfd.hpp (C++ wrapper),
#   lib/libdfd.so.X.Y.Z (+ .so.X, .so), lib/libdfd.a,
#   lib/dfd/plugins/libdfd_backend_*.so, lib/pkgconfig/dfd.pc,
#   lib/cmake/dfd/dfdConfig.cmake + dfdConfigVersion.cmake, bin/dfd,
#   include/dfd_decode.h + lib/libdfd_decode.so.X.Y.Z (+ .so.X, .so), the
#   audio-file decoder, when built.
# Installed libdfd and dfd find the plugins in lib/dfd/plugins by themselves
# (next to libdfd, see src/backend/registry.rs); no environment variable.
#
# Usage: scripts/install.sh [--no-build] [--from DIR] PREFIX
#   (default) runs `cargo build --release`, installs target/release
#   --no-build  installs what is already built (target/release unless --from)
#   --from DIR  takes the artifacts from DIR (e.g. target/debug); implies
#               --no-build. bin/dfd and libdfd_decode are installed only
#               when DIR has them.
set -euo pipefail
build=1
from=
prefix=
while [ $# -gt 0 ]; do
  case $1 in
    --no-build) build=0 ;;
    --from) from=${2:?--from needs a directory}; build=0; shift ;;
    --from=*) from=${1#--from=}; build=0 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    -*) echo "install.sh: unknown option $1" >&2; exit 2 ;;
    *) [ -z "$prefix" ] || { echo "install.sh: one PREFIX only" >&2; exit 2; }; prefix=$1 ;;
  esac
  shift
done
[ -n "$prefix" ] || { echo "usage: scripts/install.sh [--no-build] [--from DIR] PREFIX" >&2; exit 2; }
# PREFIX and --from DIR are relative to the caller's directory.
mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd)
[ -z "$from" ] || from=$(cd "$from" && pwd)
cd "$(dirname "$0")/.."
from=${from:-${CARGO_TARGET_DIR:-$PWD/target}/release}
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
major=${version%%.*}

if [ "$build" = 1 ]; then
  cargo build --release
fi
for f in libdfd.so libdfd.a libdfd_backend_cpu.so; do
  [ -f "$from/$f" ] || { echo "install.sh: $from/$f missing (build first, or drop --no-build)" >&2; exit 1; }
done

lib=$prefix/lib
install -d "$prefix/include" "$lib/pkgconfig" "$lib/dfd/plugins" "$lib/cmake/dfd"
install -m 644 include/dfd.h include/dfd.hpp "$prefix/include/"
install -m 755 "$from/libdfd.so" "$lib/libdfd.so.$version"
ln -sf "libdfd.so.$version" "$lib/libdfd.so.$major"
ln -sf "libdfd.so.$major" "$lib/libdfd.so"
install -m 644 "$from/libdfd.a" "$lib/libdfd.a"
for p in "$from"/libdfd_backend_*.so; do
  install -m 755 "$p" "$lib/dfd/plugins/"
done
if [ -f "$from/libdfd_decode.so" ]; then
  install -m 644 include/dfd_decode.h "$prefix/include/"
  install -m 755 "$from/libdfd_decode.so" "$lib/libdfd_decode.so.$version"
  ln -sf "libdfd_decode.so.$version" "$lib/libdfd_decode.so.$major"
  ln -sf "libdfd_decode.so.$major" "$lib/libdfd_decode.so"
fi
if [ -f "$from/dfd" ]; then
  install -d "$prefix/bin"
  install -m 755 "$from/dfd" "$prefix/bin/dfd"
fi
subst() { sed -e "s|@PREFIX@|$prefix|g" -e "s|@VERSION@|$version|g" -e "s|@MAJOR@|$major|g" "$1" > "$2"; }
subst dfd.pc.in "$lib/pkgconfig/dfd.pc"
subst cmake/dfdConfig.cmake.in "$lib/cmake/dfd/dfdConfig.cmake"
subst cmake/dfdConfigVersion.cmake.in "$lib/cmake/dfd/dfdConfigVersion.cmake"
echo "installed libdfd $version under $prefix"
