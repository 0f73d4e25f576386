#!/usr/bin/env bash
# Quickstart: install, generate a small synthetic COCO data set, train a small FBNetV3OD on the
# CPU for a few minutes, evaluate it, draw its detections, and say where everything is.
# Usage: bash quickstart.sh [OUTPUT_DIR]   (default runs/quickstart; it is recreated)
set -euo pipefail
cd "$(dirname "$0")"
OUT="${1:-runs/quickstart}"
export OMP_WAIT_POLICY=PASSIVE

if [ ! -x .venv/bin/python ]; then
  python3.11 -m venv .venv
fi
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet -e .
PY=.venv/bin/python

rm -rf "$OUT"
start=$(date +%s)
$PY -m detector.synthetic --output "$OUT/data"
$PY -m detector.train --config experiments/quickstart_train.yaml --data "$OUT/data" --output "$OUT/train"
$PY -m detector.evaluate --checkpoint "$OUT/train/model_final.pt" --data "$OUT/data" --output "$OUT/eval_val.json"
$PY -m detector.predict --checkpoint "$OUT/train/model_final.pt" --images "$OUT/data/images" \
    --output "$OUT/predictions" --score-thresh 0.5
end=$(date +%s)

cat <<MSG

Quickstart finished in $((end - start)) s.
  data:         $OUT/data (images/, train.json, val.json)
  training run: $OUT/train (config.yaml, metrics.jsonl, curves.png, model_final.pt)
  evaluation:   $OUT/eval_val.json
  detections:   $OUT/predictions/*.png
MSG
