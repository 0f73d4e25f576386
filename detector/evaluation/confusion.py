"""Confusion matrix of a detector at one IoU and one score threshold, with a background class for what AP hides:
objects nobody found (misses) and detections of nothing (false alarms).

Matching is one-to-one per image with scipy's `linear_sum_assignment` (Hungarian), not greedy by IoU: greedy
order can give a detection that overlaps two objects the one another detection needed and so report a miss and a
false alarm where a full matching exists. Among pairs with IoU >= the threshold the assignment maximises the
sum of IoU + 1 per same-class pair, so an object found with the right class counts as found even when a
wrong-class duplicate overlaps it more (the duplicate is a false alarm, not a confusion)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor
from torchvision.ops import box_iou


def match_boxes(gt_boxes: Tensor, gt_labels: Tensor, det_boxes: Tensor, det_labels: Tensor, iou_thresh: float) -> list[tuple[int, int]]:
    """One-to-one (ground-truth index, detection index) pairs with IoU >= `iou_thresh` (XYXY boxes)."""
    if len(gt_boxes) == 0 or len(det_boxes) == 0:
        return []
    iou = box_iou(gt_boxes.float(), det_boxes.float())
    valid = iou >= iou_thresh
    same_class = (gt_labels[:, None] == det_labels[None, :]).float()
    weight = torch.where(valid, iou + same_class, torch.zeros_like(iou))
    rows, cols = linear_sum_assignment(weight.numpy(), maximize=True)
    return [(int(r), int(c)) for r, c in zip(rows, cols) if valid[r, c]]


def confusion_matrix(
    ground_truth: Iterable[tuple[Tensor, Tensor]], detections: Iterable[dict[str, Tensor]], num_classes: int,
    *, iou_thresh: float = 0.5, score_thresh: float = 0.25,
) -> np.ndarray:
    """Counts `[K + 1, K + 1]`: row = true class, column = predicted class (labels 1..K at index label - 1);
    index K is background: column K counts missed objects, row K false alarms ([K, K] stays 0).

    `ground_truth`: per image (XYXY boxes, labels); `detections`: per image torchvision's `{"boxes", "labels",
    "scores"}`, of which those scoring at least `score_thresh` take part."""
    background = num_classes
    matrix = np.zeros((num_classes + 1, num_classes + 1), dtype=np.int64)
    for (gt_boxes, gt_labels), det in zip(ground_truth, detections, strict=True):
        keep = det["scores"] >= score_thresh
        det_boxes, det_labels = det["boxes"][keep], det["labels"][keep]
        pairs = match_boxes(gt_boxes, gt_labels, det_boxes, det_labels, iou_thresh)
        for g, d in pairs:
            matrix[int(gt_labels[g]) - 1, int(det_labels[d]) - 1] += 1
        found, claimed = {g for g, _ in pairs}, {d for _, d in pairs}
        for g in set(range(len(gt_labels))) - found:
            matrix[int(gt_labels[g]) - 1, background] += 1
        for d in set(range(len(det_labels))) - claimed:
            matrix[background, int(det_labels[d]) - 1] += 1
    return matrix
