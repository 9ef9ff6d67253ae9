#!/usr/bin/env bash
# Cross-builds libdfd for a phone-class CPU with Debian's toolchain and runs
# it under qemu-user: the shapes a mobile app ships, checked on the target
# instruction set (no device needed).
#
# Usage: scripts/cross.sh TARGET [STEP...]
#   TARGET  aarch64 (aarch64-unknown-linux-gnu; arm64-v8a phones)
#           armv7   (armv7-unknown-linux-gnueabihf; 32-bit ARM userland)
#   STEP    install  Debian packages: rustc-web, libstd-rust-web-dev:ARCH,
#                    the GNU cross gcc, qemu-user (root or sudo; skipped
#                    when all are there)
#           build    libdfd.a + libdfd.so with builtin-cpu (dist/builtin-cpu),
#                    then libdfd.so, the CPU plugin and dfd (release, or the
#                    profile named by DFD_CROSS_PROFILE)
#           package  16 KB page alignment (readelf -l), the JNI glue
#                    cross-compiled, stripped sizes (dist/sizes.txt)
#           test     under qemu: the C example on the shared library + plugin,
#                    the same program linked with the static builtin-cpu
#                    library (same score), tests/c/api_test.c, `dfd scan
#                    samples/` per precision against this machine's scores
#                    (fp32 1e-5, fp16/int8 1e-3), `dfd backends --measure`
#           rust-tests  the Rust tests that need no external tool, with qemu
#                    as cargo's runner (not in the default steps: their
#                    build costs another tract build, see step_rust_tests)
#   (no STEP: install, build, package, test, in that order)
#
# Debian's rustc (/usr/bin/rustc) differs from the workspace's toolchain, so
# the cross build has its own target directory, target/cross: sharing
# target/ would make the two compilers rebuild each other's host crates.
# Outputs: target/cross/TRIPLE/PROFILE/ (cargo's), target/cross/TRIPLE/dist/.
#
# DFD_CROSS_PROFILE (default release) is the cargo profile built. CI sets
# `cross-check` (Cargo.toml: release at opt-level 1), which checks the same
# code on the target in a fraction of the build time; the sizes it prints
# are then not the release sizes.
# The x86-64 reference scores come from target/debug/dfd (built by
# `cargo test --workspace`; built here when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

case ${1:-} in
  aarch64) triple=aarch64-unknown-linux-gnu; gnu=aarch64-linux-gnu; deb=arm64; qemu=qemu-aarch64
           isas=("") ;;
  # qemu-user shows the host's /proc/cpuinfo, where tract finds no NEON:
  # the NEON kernels (every armeabi-v7a phone's) are also run, asked for
  # with TRACT_CPU_ISA.
  armv7) triple=armv7-unknown-linux-gnueabihf; gnu=arm-linux-gnueabihf; deb=armhf; qemu=qemu-arm
         isas=("" "+neon") ;;
  *) sed -n '2,25p' "$0" >&2; exit 2 ;;
esac
shift
steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(install build package test)

rustc_min=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
profile=${DFD_CROSS_PROFILE:-release}
out=target/cross/$triple/$profile
dist=target/cross/$triple/dist
# qemu's -L: the root whose ld.so and libc.so.6 are one glibc build. The
# cross sysroot (/usr/$gnu, libc6-$deb-cross) has its own ld.so, but that
# ld.so then finds the multiarch libc6:$deb (which libopus-dev:$deb brings)
# in /lib/$gnu first: a mismatched pair under which pthread_create never
# returns (every Rust test binary and the two-thread `dfd scan` hung). The
# multiarch root is one build; cross-linked binaries run on it.
qemu_root=/

# Debian's compiler, its own target dir, the GNU cross linker and C
# compiler (tract-linalg assembles its kernels with it), qemu as the runner
# of `cargo test`, and 16 KB pages (Android 15+; a multiple of 4 KB pages).
T=$(echo "$triple" | tr 'a-z-' 'A-Z_')
t=${triple//-/_}
export RUSTC=/usr/bin/rustc CARGO_TARGET_DIR=target/cross
export "CARGO_TARGET_${T}_LINKER=$gnu-gcc" "CC_$t=$gnu-gcc" "AR_$t=$gnu-ar"
export "CARGO_TARGET_${T}_RUNNER=$qemu -L $qemu_root"
export "CARGO_TARGET_${T}_RUSTFLAGS=-C link-arg=-Wl,-z,max-page-size=16384"
cargo_x() { cargo "$1" --profile "$profile" --locked --target "$triple" "${@:2}"; }
emu() { "$qemu" -L "$qemu_root" "$@"; }
say() { printf '\n== cross %s: %s\n' "$triple" "$*"; }

step_install() {
  local need=() sudo=""
  [ -x /usr/bin/rustc ] && [ -d "/usr/lib/rustlib/$triple" ] || need+=(rustc-web "libstd-rust-web-dev:$deb")
  command -v "$gnu-gcc" >/dev/null || need+=("gcc-$gnu" "libc6-dev-$deb-cross")
  command -v "$qemu" >/dev/null || need+=(qemu-user)
  command -v readelf >/dev/null || need+=(binutils)
  # dfd-decode (in `dfd`) links libopus for Opus files.
  dpkg -s "libopus-dev:$deb" >/dev/null 2>&1 || need+=("libopus-dev:$deb")
  # qemu runs on the multiarch glibc (see qemu_root).
  dpkg -s "libc6:$deb" >/dev/null 2>&1 || need+=("libc6:$deb")
  if [ ${#need[@]} -gt 0 ]; then
    say "installing ${need[*]}"
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    dpkg --print-foreign-architectures | grep -qx "$deb" || $sudo dpkg --add-architecture "$deb"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=900 install -y -qq \
      --no-install-recommends "${need[@]}"
  fi
  # rustc-web and libstd-rust-web-dev:ARCH must be the same release, at
  # least the workspace's rust-version (bookworm-security has 1.96).
  local have
  have=$(/usr/bin/rustc -V | awk '{print $2}')
  if [ "$(printf '%s\n%s\n' "$rustc_min" "$have" | sort -V | head -1)" != "$rustc_min" ]; then
    echo "cross.sh: /usr/bin/rustc is $have, the workspace needs $rustc_min (enable bookworm-security)" >&2
    exit 1
  fi
}

step_build() {
  # The static, no-dlopen shape first (its libdfd.so is the Android shape:
  # backend inside), kept in dist/ because the plain build below overwrites
  # cargo's copies.
  # Both builds select the same packages, so cargo resolves the same
  # features for tract and compiles it once; only dfd and dfd-cli rebuild.
  # (Selecting `-p dfd` alone resolves other features and rebuilds tract:
  # over an hour on a loaded 2-core machine.)
  local pkgs=(-p dfd -p dfd-backend-cpu -p dfd-backend-rten -p dfd-cli)
  say "build libdfd (builtin-cpu)"
  cargo_x build "${pkgs[@]}" --features dfd/builtin-cpu
  mkdir -p "$dist/builtin-cpu"
  cp "$out/libdfd.a" "$out/libdfd.so" "$dist/builtin-cpu/"
  say "build libdfd.so, CPU plugins (tract, rten), dfd"
  cargo_x build "${pkgs[@]}"
}

step_package() {
  say "16 KB page alignment"
  local so
  for so in "$dist/builtin-cpu/libdfd.so" "$out/libdfd.so" "$out/libdfd_backend_cpu.so" \
            "$out/libdfd_backend_rten.so"; do
    check_align "$so"
  done
  # The JNI glue for the Android shape, against the JDK's jni.h (the NDK's
  # is the same interface); links the builtin-cpu libdfd.so.
  say "JNI glue"
  local jh
  jh=${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")}
  "$gnu-gcc" -shared -fPIC -O2 -Wall -Werror -Iinclude -I"$jh/include" -I"$jh/include/linux" \
    bindings/java/jni/dfd_jni.c -L"$dist/builtin-cpu" -ldfd -Wl,-z,max-page-size=16384 \
    -o "$dist/builtin-cpu/libdfd_jni.so"
  check_align "$dist/builtin-cpu/libdfd_jni.so"
  readelf -d "$dist/builtin-cpu/libdfd_jni.so" | grep -q 'NEEDED.*\[libdfd\.so' \
    || { echo "libdfd_jni.so does not record libdfd as NEEDED" >&2; exit 1; }
  say "stripped sizes ($profile profile)"
  mkdir -p "$dist/stripped"
  local f
  : >"$dist/sizes.txt"
  for f in "$out/libdfd.so" "$out/libdfd_backend_cpu.so" "$out/libdfd_backend_rten.so" "$out/dfd" \
           "$dist/builtin-cpu/libdfd.so" "$dist/builtin-cpu/libdfd.a"; do
    local name=${f#target/cross/$triple/}
    local s="$dist/stripped/${name//\//_}"
    case $f in
      *.a) "$gnu-strip" --strip-debug -o "$s" "$f" ;;
      *) "$gnu-strip" -o "$s" "$f" ;;
    esac
    stat -c %s "$s" | awk -v n="$name" '{ printf "%-28s %10d B  %5.1f MB\n", n, $1, $1 / 1e6 }' \
      | tee -a "$dist/sizes.txt"
  done
  # The phone shape: libdfd.so and the compact CPU plugin, nothing else.
  local s=$dist/stripped
  echo $(($(stat -c %s "$s/${profile}_libdfd.so") + $(stat -c %s "$s/${profile}_libdfd_backend_rten.so"))) \
    | awk '{ printf "%-28s %10d B  %5.1f MB\n", "libdfd.so + rten plugin", $1, $1 / 1e6 }' \
    | tee -a "$dist/sizes.txt"
}

# Every LOAD segment aligned to 16 KB (0x4000) or a multiple of it.
check_align() {
  local aligns bad
  aligns=$(readelf -lW "$1" | awk '$1 == "LOAD" { print $NF }')
  [ -n "$aligns" ] || { echo "$1: no LOAD segment" >&2; exit 1; }
  bad=$(for a in $aligns; do [ $((a % 0x4000)) -eq 0 ] || echo "$a"; done)
  [ -z "$bad" ] || { echo "$1: LOAD alignment $bad is not a multiple of 16 KB" >&2; exit 1; }
  echo "$1: LOAD align $(echo "$aligns" | sort -u | tr '\n' ' ')ok"
}

step_test() {
  local tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  local model=models/dfd-lfb-cnn wav=tests/fixtures/audio/speech_22k05.wav
  local cc=("$gnu-gcc" -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -O1 -Iinclude)

  say "C example, shared libdfd + CPU plugin"
  "${cc[@]}" examples/c/stream_wav.c -L"$out" -ldfd -lm -o "$tmp/stream_wav"
  ln -sf "$root/$out/libdfd.so" "$tmp/libdfd.so.0"
  local shared static
  shared=$(LD_LIBRARY_PATH=$tmp emu "$tmp/stream_wav" "$model" "$wav" "$out")
  echo "$shared" | tail -2
  echo "$shared" | grep -q ' on cpu' || { echo "not on the CPU plugin" >&2; exit 1; }

  say "C example, static libdfd.a with builtin-cpu, no plugin anywhere"
  # tract's armv7 NEON objects carry no .note.GNU-stack, which would give
  # the program an executable stack: an app linking libdfd.a says no.
  "${cc[@]}" examples/c/stream_wav.c "$dist/builtin-cpu/libdfd.a" -lm -ldl -lpthread \
    -Wl,-z,noexecstack -o "$tmp/stream_wav_static"
  readelf -lW "$tmp/stream_wav_static" | awk '$1 == "GNU_STACK" && $7 != "RW" { exit 1 }' \
    || { echo "the static program has an executable stack" >&2; exit 1; }
  static=$(env -u DFD_PLUGIN_PATH "$qemu" -L "$qemu_root" "$tmp/stream_wav_static" "$model" "$wav")
  echo "$static" | tail -1
  [ "$(echo "$static" | tail -1)" = "$(echo "$shared" | tail -1)" ] \
    || { echo "static and shared builds disagree" >&2; exit 1; }

  say "C API contract from C (tests/c/api_test.c)"
  mkdir -p "$tmp/bad"
  "${cc[@]}" tests/c/api_test.c -L"$out" -ldfd -lm -o "$tmp/api_test"
  "$gnu-gcc" -shared -fPIC tests/c/not_a_plugin.c -o "$tmp/bad/libdfd_backend_notaplugin.so"
  "$gnu-gcc" -shared -fPIC tests/c/bad_abi_plugin.c -o "$tmp/bad/libdfd_backend_future.so"
  LD_LIBRARY_PATH=$tmp env -u DFD_PLUGIN_PATH "$qemu" -L "$qemu_root" \
    "$tmp/api_test" tests/fixtures "$out" "$tmp/bad" | tail -1 | tee "$tmp/api.txt"
  grep -q 'all checks passed' "$tmp/api.txt"

  say "dfd scan samples/ per precision, against x86-64"
  # The x86-64 reference: what `cargo test --workspace` built (the plugins
  # stay in deps/ there), else a plain build.
  local host=target/debug hostplugins=target/debug
  [ -f "$hostplugins/libdfd_backend_cpu.so" ] || hostplugins=target/debug/deps
  if ! [ -x "$host/dfd" ] || ! [ -f "$hostplugins/libdfd_backend_cpu.so" ] \
     || ! [ -f "$hostplugins/libdfd_backend_rten.so" ]; then
    env -u RUSTC -u CARGO_TARGET_DIR cargo build -p dfd-cli -p dfd-backend-cpu -p dfd-backend-rten
    hostplugins=target/debug
  fi
  local p isa
  for p in fp32 fp16 int8; do
    "$host/dfd" scan --json -p "$p" --backend cpu --plugin-dir "$hostplugins" samples/ >"$tmp/x86.$p.jsonl"
  done
  for isa in "${isas[@]}"; do
    for p in fp32 fp16 int8; do
      TRACT_CPU_ISA=$isa emu "$out/dfd" scan --json -p "$p" --backend cpu --plugin-dir "$out" samples/ \
        >"$tmp/arm.$p.jsonl"
    done
    compare_scores "$tmp" "$triple${isa:+ (TRACT_CPU_ISA=$isa)}" fp32 fp16 int8
  done

  say "the compact CPU plugin (rten): dfd scan samples/ against x86-64, C example with it alone"
  for p in fp32 fp16; do
    "$host/dfd" scan --json -p "$p" --backend rten --plugin-dir "$hostplugins" samples/ >"$tmp/x86.$p.jsonl"
    emu "$out/dfd" scan --json -p "$p" --backend rten --plugin-dir "$out" samples/ >"$tmp/arm.$p.jsonl"
  done
  compare_scores "$tmp" "$triple, rten" fp32 fp16
  # The phone shape: libdfd.so with only the rten plugin beside it (copies:
  # libdfd searches the directory of its resolved file), no plugin_dir;
  # auto finds no other backend and takes rten.
  mkdir -p "$tmp/compact"
  cp "$out/libdfd.so" "$tmp/compact/libdfd.so.0"
  cp "$out/libdfd_backend_rten.so" "$tmp/compact/"
  local compact
  compact=$(LD_LIBRARY_PATH=$tmp/compact env -u DFD_PLUGIN_PATH "$qemu" -L "$qemu_root" \
    "$tmp/stream_wav" "$model" "$wav")
  echo "$compact" | tail -2
  echo "$compact" | grep -q ' on rten' || { echo "not on the rten plugin" >&2; exit 1; }
  [ "$(echo "$compact" | tail -1)" = "$(echo "$shared" | tail -1)" ] \
    || { echo "the rten and tract builds disagree" >&2; exit 1; }
  # A model rten cannot run (AASIST's Selu), with no cpu to fall back to:
  # the error names rten's reason.
  local refused
  refused=$(LD_LIBRARY_PATH=$tmp/compact env -u DFD_PLUGIN_PATH "$qemu" -L "$qemu_root" \
    "$tmp/stream_wav" tests/fixtures/arch/aasist/aasist.onnx "$wav" 2>&1) \
    && { echo "AASIST loaded on the rten plugin" >&2; exit 1; }
  echo "$refused"
  echo "$refused" | grep -q 'Selu' || { echo "the refusal does not name Selu" >&2; exit 1; }

  say "dfd backends (the CPU probe on $triple), --measure"
  local probe
  probe=$(emu "$out/dfd" backends --plugin-dir "$out" --measure --measure-seconds 1)
  echo "$probe"
  echo "$probe" | grep -q "^cpu: auto picks " || { echo "no measurement" >&2; exit 1; }
}

# x86-64 against the target's `dfd scan` scores, per precision.
# Args: the directory with x86.P.jsonl and arm.P.jsonl, a label, precisions.
compare_scores() {
  python3 - "$@" <<'PY'
import json, os, sys
tmp, triple, *precisions = sys.argv[1:]
tolerance = {"fp32": 1e-5, "fp16": 1e-3, "int8": 1e-3}
bad = 0
for p in precisions:
    tol = tolerance[p]
    rows = [[json.loads(line) for line in open(f"{tmp}/{side}.{p}.jsonl")] for side in ("x86", "arm")]
    assert len(rows[0]) == len(rows[1]) > 0, f"{p}: {len(rows[0])} vs {len(rows[1])} files"
    for x, a in zip(*rows):
        assert x["file"] == a["file"] and x["precision"] == a["precision"] == p, (x, a)
        assert x["windows"] == a["windows"], (x, a)
        d = abs(x["p_fake"] - a["p_fake"])
        bad += d > tol
        print(f"{p} {os.path.basename(x['file'])}: x86-64 {x['p_fake']:.8f}, {triple} {a['p_fake']:.8f}, "
              f"|diff| {d:.1e} (tolerance {tol:g}){'  FAIL' if d > tol else ''}")
sys.exit(1 if bad else 0)
PY
}

# Not part of `test`: building the test binaries compiles tract once more
# (11 min on 2 cores). (They used to hang at their first thread: qemu ran
# the cross sysroot's ld.so with the multiarch libc, see qemu_root.) One
# unit test re-executes its own binary, which fails without a binfmt_misc
# entry for the target (ENOEXEC); the rest pass (README, ARM64).
step_rust_tests() {
  say "Rust tests under $qemu"
  cargo_x test -p dfd-backend-cpu --lib
  cargo_x test -p dfd --lib --test ffi_errors --test stream_api --test default_model
}

for s in "${steps[@]}"; do
  case $s in
    install|build|package|test) "step_$s" ;;
    rust-tests) step_rust_tests ;;
    *) echo "cross.sh: unknown step $s (install, build, package, test, rust-tests)" >&2; exit 2 ;;
  esac
done
say "done"
