"""Training curves from `metrics.jsonl`: losses per epoch next to validation AP, as one PNG."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from core.atomic import atomic_open
from detector.evaluation.metric_names import AP_KEYS

LOSS_KEYS = ("loss", "loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg")


def plot_curves(records: list[dict[str, Any]], output: str | os.PathLike[str], title: str = "training curves") -> Path:
    """Loss curves (left) and validation AP (right) per epoch, written to `output` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window (also on headless machines)
    import matplotlib.pyplot as plt

    output = Path(output)
    fig, (ax_loss, ax_ap) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    fig.suptitle(title)
    epochs = [r["epoch"] for r in records]
    for key in LOSS_KEYS:
        points = [(r["epoch"], r[key]) for r in records if r.get(key) is not None]
        if points:
            xs, ys = zip(*points)
            ax_loss.plot(xs, ys, marker="o" if len(xs) < 30 else None, lw=2.2 if key == "loss" else 1.2,
                         label="total loss" if key == "loss" else key.removeprefix("loss_"))
    _decorate(ax_loss, "mean training loss", "training loss")

    ema = any("ap_raw" in r for r in records)  # with EMA, "ap" is the EMA weights' and "ap_raw" the raw ones'
    for key in (*AP_KEYS, "ap_raw"):
        points = [(r["epoch"], r[key]) for r in records if isinstance(r.get(key), (int, float))]
        if points:
            xs, ys = zip(*points)
            label = "AP (raw weights)" if key == "ap_raw" else key.upper() + (" (EMA)" if ema else "")
            ax_ap.plot(xs, ys, marker="o", ls="--" if key == "ap_raw" else "-", label=label)
    _decorate(ax_ap, "COCO AP (%)", "validation AP")
    if ax_ap.lines:
        ax_ap.set_ylim(bottom=0)
    else:
        ax_ap.text(0.5, 0.5, "no validation results", ha="center", va="center", transform=ax_ap.transAxes)
    if epochs:
        for ax in (ax_loss, ax_ap):
            ax.set_xlim(min(epochs) - 0.5, max(epochs) + 0.5)
            ax.xaxis.get_major_locator().set_params(integer=True)

    with atomic_open(output, "wb") as handle:
        fig.savefig(handle, format="png", dpi=110)
    plt.close(fig)
    return output


def _decorate(ax: Any, ylabel: str, title: str) -> None:
    """Axis labels, title, grid, and a legend when something was plotted."""
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=8)
