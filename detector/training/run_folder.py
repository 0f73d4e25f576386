"""The files of a training run's folder: written by the engine's callbacks, read by resume, the CLI and a search trial."""

from __future__ import annotations

LAST = "last.pt"  # everything for exact resume, rewritten atomically after every epoch
FINAL = "model_final.pt"  # weights (+ EMA weights), config, class names, label map and final metrics
METRICS = "metrics.jsonl"  # one JSON object per epoch
CONFIG = "config.yaml"  # the resolved config (with model.num_classes from the data)
CURVES = "curves.png"  # loss and AP per epoch
TENSORBOARD = "tb"  # folder: TensorBoard events, when TensorBoard is installed
