#!/usr/bin/env bash
# Quickstart: install, then on a synthetic COCO data set the project generates itself run a small
# NARS search (architecture + training recipe, 8 trials on the CPU), train its winning recipe and the
# default recipe, compare them on held-out test images, draw the winner's detections, and say where everything is.
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
SEARCH="$OUT/search"
DATA="$SEARCH/data"
$PY -m nars.search --config experiments/quickstart_search.yaml --output "$SEARCH"
# the winner and the default recipe, each trained for the winner's full schedule; each training measures the test
# split the search never saw (eval_test.json with its PR curve, confusion matrix and samples sheet), where the
# comparison is fair
$PY -m detector.train --config "$SEARCH/best_recipe.yaml" --data "$DATA" --output "$SEARCH/final"
$PY -m detector.train --config "$SEARCH/default_recipe.yaml" --data "$DATA" --output "$SEARCH/default"
$PY -m detector.predict --checkpoint "$SEARCH/final/model_final.pt" --data "$DATA" --split test \
    --output "$OUT/predictions" --score-thresh 0.5
# the search's report again, now with both trainings beside the trials; it prints that comparison
how_good=$($PY -m nars.analysis "$SEARCH" | tail -n +2 | sed 's/^/  /')
end=$(date +%s)

cat <<MSG

Quickstart finished in $((end - start)) s.
How good is the winner (COCO AP in %; more in $SEARCH/report/report.md):
$how_good
Where everything is:
  search:       $SEARCH (trials.csv, curves.csv, best_recipe.yaml, default_recipe.yaml, predictor.pt, report/)
  data:         $DATA (images/, train.json, val.json; test.json held out from the search)
  winner run:   $SEARCH/final (config.yaml, metrics.jsonl, curves.png, model_final.pt, eval_test.json and its PNGs)
  default run:  $SEARCH/default (the recipe without a search, same schedule: eval_test.json)
  detections:   $OUT/predictions/*.png (test images)
  TensorBoard:  tensorboard --logdir $OUT (each run's tb/ and every trial's search/trials/*/tb/)
MSG
