"""What `detector.export` can write and its defaults, in a module light enough for the CLI's `--help` (no torch)."""

from __future__ import annotations

FORMATS = ("onnx", "torchscript")
DEFAULT_OPSET = 17
DEFAULT_CALIBRATION_COUNT = 256
"""int8 calibration images: calibration costs about 0.1 s per image and min/max ranges settle as more images are seen;
smaller subsets move int8 AP between seeds (BENCHMARKS.md, "Int8 accuracy")."""
