#!/usr/bin/env bash
# Quickstart: install, then on a synthetic COCO data set the project generates itself run a small
# NARS search (architecture + training recipe, 8 trials on the CPU), train its winning recipe,
# evaluate it, draw its detections, and say where everything is.
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
$PY -m nars.search --config experiments/quickstart_search.yaml --output "$OUT/search"
$PY -m detector.train --config "$OUT/search/best_recipe.yaml" --data "$OUT/search/data" --output "$OUT/train"
$PY -m detector.evaluate --checkpoint "$OUT/train/model_final.pt" --data "$OUT/search/data" --output "$OUT/eval_val.json"
$PY -m detector.predict --checkpoint "$OUT/train/model_final.pt" --data "$OUT/search/data" --split val \
    --output "$OUT/predictions" --score-thresh 0.5
# the search's report again, now with the winner's trained AP beside the best trial's; it prints that comparison
how_good=$($PY -m nars.analysis "$OUT/search" --trained "$OUT/eval_val.json" | tail -n +2 | sed 's/^/  /')
end=$(date +%s)

cat <<MSG

Quickstart finished in $((end - start)) s.
How good is the winner (COCO AP in %; more in $OUT/search/report/report.md):
$how_good
Where everything is:
  search:       $OUT/search (trials.csv, curves.csv, best_recipe.yaml, predictor.pt, report/)
  data:         $OUT/search/data (images/, train.json, val.json)
  winner run:   $OUT/train (config.yaml, metrics.jsonl, curves.png, model_final.pt)
  evaluation:   $OUT/eval_val.json
  detections:   $OUT/predictions/*.png
  TensorBoard:  tensorboard --logdir $OUT (the winner run's train/tb/ and every trial's search/trials/*/tb/)
MSG
