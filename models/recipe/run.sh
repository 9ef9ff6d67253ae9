#!/usr/bin/env bash
# The whole recipe of the default model, one command:
#   corpus -> features -> train -> export (fp32/fp16/int8) -> evaluate
#
#   models/recipe/run.sh [CORPUS_DIR [RUN_DIR [PACKAGE_DIR]]]
#
# Defaults: /work/corpus, /tmp/dfd-recipe-run, models/dfd-lfb-cnn. The corpus
# is built only when CORPUS_DIR/manifest.csv is missing (or REBUILD_CORPUS=1).
# Wall time of each stage goes to RUN_DIR/times.txt. CPU only, 2 threads.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CORPUS="${1:-/work/corpus}"
RUN="${2:-/tmp/dfd-recipe-run}"
PKG="${3:-$ROOT/models/dfd-lfb-cnn}"
mkdir -p "$RUN"
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
TIMES="$RUN/times.txt"
: > "$TIMES"

stage() {
  local name="$1"; shift
  local t0=$SECONDS
  echo "== $name: $*"
  "$@"
  echo "$name $((SECONDS - t0)) s" | tee -a "$TIMES"
}

if ! python3 -c "import torch, onnx, onnxruntime" 2>/dev/null; then
  echo "== installing the training packages: pip install -r $HERE/requirements-train.txt"
  python3 -m pip install -r "$HERE/requirements-train.txt"
fi
if [[ ! -f "$CORPUS/manifest.csv" || "${REBUILD_CORPUS:-0}" == 1 ]]; then
  stage corpus python3 "$HERE/build_corpus.py" --out "$CORPUS" --jobs 2
fi
stage features python3 "$HERE/prepare.py" --corpus "$CORPUS" --cache "$RUN/cache"
stage train python3 "$HERE/train.py" --corpus "$CORPUS" --out "$RUN" --cache "$RUN/cache" \
  --arch cnn --epochs 32 --samples-per-epoch 6000 --patience 100 --ema 0.998
stage export python3 "$HERE/export.py" --run "$RUN" --corpus "$CORPUS" --cache "$RUN/cache" \
  --out "$PKG"
stage evaluate python3 "$HERE/evaluate.py" --package "$PKG" --corpus "$CORPUS" \
  --json "$RUN/eval.json"
cat "$TIMES"
