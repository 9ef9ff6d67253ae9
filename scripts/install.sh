#!/usr/bin/env bash
# Builds libdfd in release mode and installs it under PREFIX:
#   include/dfd.h, lib/libdfd.so.X.Y.Z (+ .so.X, .so), lib/libdfd.a,
#   lib/dfd/plugins/libdfd_backend_cpu.so, lib/pkgconfig/dfd.pc, bin/dfd.
# Installed libdfd and dfd find the plugins in lib/dfd/plugins by themselves.
# Usage: scripts/install.sh PREFIX   (e.g. /usr/local, or $HOME/.local)
set -euo pipefail
prefix=${1:?usage: scripts/install.sh PREFIX}
cd "$(dirname "$0")/.."
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
major=${version%%.*}

cargo build --release --workspace
install -d "$prefix/include" "$prefix/lib/pkgconfig" "$prefix/lib/dfd/plugins" "$prefix/bin"
install -m 644 include/dfd.h "$prefix/include/dfd.h"
install -m 755 target/release/libdfd.so "$prefix/lib/libdfd.so.$version"
ln -sf "libdfd.so.$version" "$prefix/lib/libdfd.so.$major"
ln -sf "libdfd.so.$major" "$prefix/lib/libdfd.so"
install -m 644 target/release/libdfd.a "$prefix/lib/libdfd.a"
install -m 755 target/release/libdfd_backend_cpu.so "$prefix/lib/dfd/plugins/"
install -m 755 target/release/dfd "$prefix/bin/dfd"
sed -e "s|@PREFIX@|$prefix|" -e "s|@VERSION@|$version|" dfd.pc.in > "$prefix/lib/pkgconfig/dfd.pc"
echo "installed libdfd $version under $prefix"
