#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets) for a bounded time, starting
# from the committed seeds in fuzz/corpus/<target>; what a run adds to the
# corpus goes to a scratch directory, so the committed seeds stay small. A
# crash, a leak, an allocation over 2 GiB or one input running over 30 s is
# a finding: the script fails and libFuzzer leaves the input in
# fuzz/artifacts/<target>/.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET [TARGET...]]    (default: 60 s, all)
#
# DFD_FUZZ_SEED fixes libFuzzer's random seed (CI uses 1, so that a CI run
# explores the same inputs for the same code and a finding reproduces);
# unset or 0 picks a new seed each run, for exploratory runs.
#
# cargo-fuzz builds with nightly flags (-Zsanitizer=address); stable rustc
# accepts them with RUSTC_BOOTSTRAP=1. The push_path target loads the CPU
# plugin from target/debug (built here if missing).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(model_from_memory manifest_json push_path cli_decoders)

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --version 0.13.2
export RUSTC_BOOTSTRAP=1
export DFD_FUZZ_PLUGIN_DIR=$PWD/target/debug
if [[ " ${targets[*]} " == *" push_path "* ]] &&
  [ ! -f target/debug/libdfd_backend_cpu.so ] && [ ! -f target/debug/deps/libdfd_backend_cpu.so ]; then
  cargo build -p dfd-backend-cpu
fi

# One build of every target, then the targets side by side, as many at a
# time as there are cores (libFuzzer runs one process on one core):
# DFD_FUZZ_JOBS overrides.
cargo fuzz build --fuzz-dir fuzz
jobs=${DFD_FUZZ_JOBS:-$(nproc)}
workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT

fuzz_one() {
  local t=$1
  mkdir -p "$workdir/$t.corpus"
  cargo fuzz run --fuzz-dir fuzz "$t" "$workdir/$t.corpus" "fuzz/corpus/$t" -- \
    -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
    -print_final_stats=1 -seed="${DFD_FUZZ_SEED:-0}" >"$workdir/$t.log" 2>&1
}

failed=()
for ((i = 0; i < ${#targets[@]}; i += jobs)); do
  batch=("${targets[@]:i:jobs}")
  pids=()
  for t in "${batch[@]}"; do
    echo "fuzz: $t for ${seconds}s"
    fuzz_one "$t" &
    pids+=($!)
  done
  for k in "${!batch[@]}"; do
    t=${batch[$k]}
    status=0
    wait "${pids[$k]}" || status=$?
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|Done)' "$workdir/$t.log" | sed "s/^/$t: /" || true
    if [ "$status" -ne 0 ]; then
      tail -n 60 "$workdir/$t.log" >&2
      echo "fuzz: $t found a problem (exit $status); the input is in fuzz/artifacts/$t/" >&2
      failed+=("$t")
    fi
  done
done
[ ${#failed[@]} -eq 0 ] || exit 1
echo "fuzz: ${#targets[@]} targets, ${seconds}s each, $jobs at a time, no finding"
