"""The figures of an evaluation report, written next to its JSON file (`split_report`) and named after it: for
`eval_val.json`, `eval_val_pr_curve.png`, `eval_val_confusion.png` and `eval_val_samples.png`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from detector.evaluation.coco import CocoEvaluation, detections_per_image
from detector.evaluation.confusion import confusion_matrix
from detector.evaluation.plots import plot_confusion, plot_pr_curves
from detector.evaluation.samples import plot_samples

FIGURES = ("pr_curve", "confusion", "samples")


def figure_paths(report: Path) -> dict[str, Path]:
    """Where each figure of the JSON report `report` goes: `<stem>_<figure>.png` beside it."""
    return {name: report.with_name(f"{report.stem}_{name}.png") for name in FIGURES}


def write_report_figures(
    evaluation: CocoEvaluation, dataset: Any, report: Path, *, iou_thresh: float = 0.5, score_thresh: float = 0.25,
    num_samples: int = 6,
) -> list[Path]:
    """Precision-recall curves, the confusion matrix (IoU >= `iou_thresh`, score >= `score_thresh`) and a sheet of
    `num_samples` images of `dataset` (0: none); returns the files written."""
    paths = figure_paths(report)
    label_to_category_id = {int(k): int(v) for k, v in dataset.label_to_category_id.items()}
    detections = detections_per_image(evaluation.results, dataset)
    ground_truth = (dataset.boxes_and_labels(i) for i in range(len(dataset)))
    matrix = confusion_matrix(ground_truth, detections, dataset.num_classes, iou_thresh=iou_thresh, score_thresh=score_thresh)
    written = [
        plot_pr_curves(evaluation, label_to_category_id, paths["pr_curve"], iou=iou_thresh),
        plot_confusion(matrix, dataset.class_names, paths["confusion"], iou_thresh=iou_thresh, score_thresh=score_thresh),
    ]
    sheet = plot_samples(dataset, detections, paths["samples"], num_images=num_samples, score_thresh=score_thresh)
    return written + ([sheet] if sheet is not None else [])
