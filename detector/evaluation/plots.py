"""The evaluation report's figures: precision-recall curves per class and a confusion matrix, one PNG each.

Figures are `matplotlib.figure.Figure` objects, not pyplot ones, so that drawing them changes no global backend
state (a notebook keeps its own) and leaves no open figure behind. Classes keep the colours the drawings of
detections give them (`drawing.class_colors`), so a class looks the same in every picture of a report."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from core.atomic import atomic_open
from detector.evaluation.coco import CocoEvaluation
from detector.evaluation.drawing import class_colors
from detector.evaluation.per_class import category_precision, iou_index

MAX_LEGEND_CLASSES = 20
"""More classes than this are drawn as thin grey lines without legend entries; the mean keeps its own."""
MAX_ANNOTATED_CELLS = 30
"""A confusion matrix with more rows than this is drawn without a number in each cell (unreadable)."""


def save_figure(fig: Figure, path: Path, dpi: int = 110) -> Path:
    """Write `fig` as a PNG atomically (a reader never sees half a file)."""
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=dpi)
    return path


def plot_pr_curves(evaluation: CocoEvaluation, label_to_category_id: dict[int, int], path: Path, iou: float = 0.5) -> Path:
    """Precision over COCOeval's 101 recall points at IoU `iou`, one line per class with ground truth and the mean
    over those classes (whose area is the AP50 of the report); each legend entry gives the class's AP50 and count."""
    evaluator = evaluation.evaluator
    recall = evaluator.params.recThrs
    at = iou_index(evaluator, iou)
    rows = evaluation.per_class[:-1]
    colors = class_colors(len(rows))
    legend = len(rows) <= MAX_LEGEND_CLASSES
    fig = Figure(figsize=(9.5, 6), layout="constrained")
    ax = fig.subplots()
    curves = []
    for label, row in enumerate(rows, start=1):
        precision = category_precision(evaluator, label_to_category_id[label])[at]
        if (precision < 0).all():  # no ground truth of this class: no curve
            continue
        curves.append(precision)
        style = {"color": np.array(colors[label - 1]) / 255, "lw": 1.6} if legend else {"color": "0.7", "lw": 0.8}
        ax.plot(recall, precision, label=f"{row['class']}: {row['ap50']:.1f} ({row['instances']})" if legend else None, **style)
    if curves:
        ax.plot(recall, np.mean(curves, axis=0), color="black", lw=3,
                label=f"all classes: {evaluation.per_class[-1]['ap50']:.1f} ({evaluation.per_class[-1]['instances']})")
        ax.legend(title=f"class: AP{round(iou * 100)} % (instances)", loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=10)
    else:
        ax.text(0.5, 0.5, "no ground-truth objects", ha="center", va="center", transform=ax.transAxes)
    ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="recall", ylabel="precision",
           title=f"precision-recall at IoU {iou:g} (COCOeval: all areas, up to 100 detections per image)")
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def plot_confusion(matrix: np.ndarray, class_names: Sequence[str], path: Path, *, iou_thresh: float, score_thresh: float) -> Path:
    """The counts of `confusion.confusion_matrix` in each cell, coloured by their share of the row (true class)."""
    names = [*class_names, "background"]
    n = len(names)
    totals = matrix.sum(axis=1)
    share = matrix / np.maximum(totals, 1)[:, None]
    share[-1, -1] = np.nan  # background found as background: not counted
    side = max(6.0, 0.62 * n + 3.0)
    fig = Figure(figsize=(side + 1.2, side), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, shrink=0.8, label="share of the row (true class)")
    if n <= MAX_ANNOTATED_CELLS:
        for i in range(n):
            for j in range(n):
                if i == j == n - 1:
                    continue
                ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=11 if n <= 12 else 8,
                        color="white" if share[i, j] > 0.6 else "black")
    ax.set_xticks(range(n), names, rotation=45, ha="right")
    ax.set_yticks(range(n), [f"{name} ({total})" for name, total in zip(names, totals)])
    ax.set_xlabel("predicted class (background: objects missed)")
    ax.set_ylabel("true class (count; background: false alarms)")
    ax.set_title(f"confusion matrix at IoU ≥ {iou_thresh:g}, score ≥ {score_thresh:g}\n(each object matched to at most one detection)")
    return save_figure(fig, path)
