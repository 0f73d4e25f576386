"""Per-class AP and AP50 with image and instance counts, read from an accumulated pycocotools `COCOeval` (the same
numbers COCOeval gives when restricted to one category), like the per-category tables of detectron2 and Ultralytics.
A count says how much a class's AP can be trusted: AP 100 on 2 instances says little."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from pycocotools.cocoeval import COCOeval

ALL = "all"
"""Name of the row over every class (its AP and AP50 are COCOeval's overall ones)."""


def mean_precision(values: np.ndarray) -> float:
    """Mean of the defined entries of a COCOeval precision slice in percent; NaN when none is defined (no ground truth)."""
    values = values[values > -1]
    return float(np.mean(values)) * 100.0 if values.size else math.nan


def iou_index(evaluator: COCOeval, iou: float) -> int:
    """Index of the IoU threshold `iou` in `evaluator.params.iouThrs` (0.5 -> 0 with COCO's 0.50:0.05:0.95)."""
    return int(np.argmin(np.abs(evaluator.params.iouThrs - iou)))


def category_precision(evaluator: COCOeval, category_id: int) -> np.ndarray:
    """Precision of one category at [IoU threshold, recall point], area "all", 100 detections per image."""
    k = list(evaluator.params.catIds).index(category_id)
    return evaluator.eval["precision"][:, :, k, 0, -1]


def _counts(evaluator: COCOeval, category_id: int | None) -> tuple[int, int]:
    """(images holding the category, its non-crowd instances) among the evaluated images; None: every category."""
    images: set[int] = set()
    instances = 0
    for image_id in evaluator.params.imgIds:
        for ann in evaluator.cocoGt.imgToAnns.get(image_id, []):
            if ann.get("iscrowd", 0) or (category_id is not None and ann["category_id"] != category_id):
                continue
            images.add(image_id)
            instances += 1
    return len(images) if category_id is not None else len(evaluator.params.imgIds), instances


def per_class_rows(evaluator: COCOeval, class_names: Sequence[str], label_to_category_id: dict[int, int]) -> list[dict[str, Any]]:
    """One row per class in label order, then the "all" row: `{"class", "images", "instances", "ap", "ap50"}`.

    Counts are the non-crowd annotations COCOeval scores; the "all" row counts every evaluated image. AP of a
    class without instances is NaN (undefined), not 0."""
    at50 = iou_index(evaluator, 0.5)
    rows = []
    for label, name in enumerate(class_names, start=1):
        category_id = label_to_category_id[label]
        precision = category_precision(evaluator, category_id)
        images, instances = _counts(evaluator, category_id)
        rows.append({"class": name, "images": images, "instances": instances,
                     "ap": mean_precision(precision), "ap50": mean_precision(precision[at50])})
    images, instances = _counts(evaluator, None)
    everything = evaluator.eval["precision"][:, :, :, 0, -1]
    rows.append({"class": ALL, "images": images, "instances": instances,
                 "ap": mean_precision(everything), "ap50": mean_precision(everything[at50])})
    return rows


def format_value(value: Any) -> str:
    """A metric for a text table: two decimals, n/a when undefined (None or NaN)."""
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.2f}"


def format_per_class_table(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as an aligned text table (class, images, instances, AP, AP50); n/a for an undefined AP."""
    width = max([len(str(row["class"])) for row in rows] + [5])
    lines = [f"{'class':<{width}}  {'images':>6}  {'instances':>9}  {'AP':>7}  {'AP50':>7}"]
    for row in rows:
        ap, ap50 = format_value(row["ap"]), format_value(row["ap50"])
        lines.append(f"{row['class']:<{width}}  {row['images']:>6}  {row['instances']:>9}  {ap:>7}  {ap50:>7}")
    return "\n".join(lines)
