"""A sheet of a few evaluated images, each as ground truth | predictions side by side, so that a person sees what
the numbers mean: which objects are missed, which are found twice, which get the wrong class.

`drawing` upscales a small image so that its tags can be read; a photo larger than `MAX_SIDE` is scaled down
first, so that a sheet of six photos stays a few megabytes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor
from torchvision.transforms.v2 import functional as F

from detector.evaluation.drawing import draw_detections
from detector.evaluation.plots import save_figure

MAX_SIDE = 1024
"""Longest side in pixels of an image on the sheet before drawing (larger photos are scaled down to it)."""
DPI = 100
MARGIN, HEADER, TITLE = 16, 48, 30
"""Pixels: around and between the drawings, above the first row (the sheet's title), above each row (its titles)."""


def sample_indices(num_images: int, count: int) -> list[int]:
    """`count` indices spread evenly over `num_images` (first and last included), not just the first few."""
    if num_images <= 0 or count <= 0:
        return []
    return sorted({round(float(i)) for i in np.linspace(0, num_images - 1, min(count, num_images))})


def _panel(image: Tensor, boxes: Tensor, labels: Tensor, scores: Tensor | None, class_names: Sequence[str]) -> np.ndarray:
    """The drawing of the image with its boxes (tags without a score when `scores` is None), as HxWx3 uint8."""
    height, width = image.shape[-2:]
    scale = MAX_SIDE / max(height, width)
    if scale < 1:
        image, boxes = F.resize(image, [round(height * scale), round(width * scale)], antialias=True), boxes * scale
    return draw_detections(image, boxes, labels, scores, class_names).permute(1, 2, 0).numpy()


def plot_samples(
    dataset: Any, detections: Sequence[dict[str, Tensor]], path: Path, *, num_images: int = 6, score_thresh: float = 0.25,
) -> Path | None:
    """Ground truth (left) and the detections scoring at least `score_thresh` (right) of `num_images` images of
    `dataset` (a `CocoDetection`), `detections` in data-set order; None when the data set has no image."""
    indices = sample_indices(len(dataset), num_images)
    if not indices:
        return None
    rows = []
    for index in indices:
        image = dataset[index][0].as_subclass(torch.Tensor)
        gt_boxes, gt_labels = dataset.boxes_and_labels(index)
        det = detections[index]
        keep = det["scores"] >= score_thresh
        rows.append((
            dataset.image_info(index)["file_name"],
            _panel(image, gt_boxes, gt_labels, None, dataset.class_names),
            _panel(image, det["boxes"][keep], det["labels"][keep], det["scores"][keep], dataset.class_names),
            len(gt_labels), int(keep.sum()),
        ))
    # Placed in pixels, so that every drawing is shown at its own resolution (no resampling of the tags' text).
    width = max(row[1].shape[1] for row in rows)
    fig_w = 2 * width + 3 * MARGIN
    fig_h = HEADER + sum(row[1].shape[0] + TITLE for row in rows) + MARGIN
    fig = Figure(figsize=(fig_w / DPI, fig_h / DPI))
    fig.text(0.5, 1 - 10 / fig_h, f"{dataset.ann_file.name}: {len(rows)} of {len(dataset)} images, ground truth | predictions",
             ha="center", va="top", fontsize=16)
    top = HEADER
    for name, truth, predicted, n_truth, n_predicted in rows:
        height = truth.shape[0]
        top += TITLE + height
        objects = f"{n_truth} object{'' if n_truth == 1 else 's'}"
        titles = (f"{name}: ground truth, {objects}", f"predictions with score ≥ {score_thresh:g}: {n_predicted}")
        for column, (drawing, title) in enumerate(zip((truth, predicted), titles)):
            ax = fig.add_axes(((MARGIN + column * (width + MARGIN)) / fig_w, 1 - top / fig_h, drawing.shape[1] / fig_w, height / fig_h))
            ax.imshow(drawing, interpolation="none")
            ax.set_title(title, fontsize=13, loc="left")
            ax.set_axis_off()
    return save_figure(fig, path, dpi=DPI)
