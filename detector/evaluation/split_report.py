"""The AP report of one split, `eval_<split>.json`: written by `detector.evaluate` and, for a run's held-out test
split, by the training engine, in one format so that either file reads the same. The file is named after the split
it measured, so that a test evaluation never overwrites a val one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.atomic import atomic_write_text
from detector.evaluation.coco import CocoEvaluation, json_safe


def report_name(split: str) -> str:
    """`eval_<split>.json`: the file name of a split's report."""
    return f"eval_{split}.json"


def split_report(
    evaluation: CocoEvaluation, *, source: Path, exported: bool, ann_file: Path, split: str, num_images: int, weights: str,
    batch_size: int,
) -> dict[str, Any]:
    """The report: what was measured (`checkpoint`, or `model` for an exported file), on which annotations and split,
    with which weights (`ema`, `model`, `onnx fp32` ...) and batch size, then the evaluation's metrics and its
    `per_class` rows (counts, AP, AP50)."""
    return {
        "model" if exported else "checkpoint": str(source), "annotations": str(ann_file), "split": split,
        "num_images": num_images, "weights": weights, "batch_size": batch_size, **evaluation.metrics, "per_class": evaluation.per_class,
    }


def write_report(report: dict[str, Any], path: Path) -> None:
    """Strict JSON (an undefined metric is null), written atomically."""
    atomic_write_text(path, json.dumps(json_safe(report), indent=2) + "\n")
