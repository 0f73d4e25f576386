"""The parameters of the FBNetV3 space: which config field each one writes, its default range and group, and the
derived ones that write several fields (input sizes, IoU pairs) with their inverse (`read_derived`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

JITTER_STEP = 16
"""Approximate spacing in pixels of the scale-jitter sizes."""


def _f(low: float, high: float, *, log: bool = False, target: str | None = None, group: str, **extra: Any) -> dict[str, Any]:
    return {"type": "float", "low": low, "high": high, "log": log, "target": target, "group": group, **extra}


def _i(low: int, high: int, step: int = 1, *, target: str | None = None, group: str) -> dict[str, Any]:
    return {"type": "int", "low": low, "high": high, "step": step, "target": target, "group": group}


def _c(values: list[Any], *, target: str, group: str, ordered: bool = False) -> dict[str, Any]:
    return {"type": "choice", "values": values, "ordered": ordered, "target": target, "group": group}


_SGD = {"when": {"optimizer": "sgd"}}
_ADAMW = {"when": {"optimizer": "adamw"}}
FIELD_PARAMETERS: dict[str, dict[str, Any]] = {
    # input (derived: also sets input.max_size)
    "min_size": _i(160, 320, 32, group="input"),
    # recipe
    "optimizer": _c(["sgd", "adamw"], target="train.optimizer", group="recipe"),
    "sgd_lr": _f(0.005, 0.2, log=True, target="train.lr", group="recipe", **_SGD),
    "sgd_weight_decay": _f(1e-5, 1e-3, log=True, target="train.weight_decay", group="recipe", **_SGD),
    "adamw_lr": _f(1e-4, 3e-3, log=True, target="train.lr", group="recipe", **_ADAMW),
    "adamw_weight_decay": _f(1e-3, 0.1, log=True, target="train.weight_decay", group="recipe", **_ADAMW),
    # warmup and EMA as shares of the schedule, so that a value means the same in a short trial and a long run
    "warmup_fraction": _f(0.0, 0.2, target="train.warmup_fraction", group="recipe"),
    "epochs": _i(4, 24, 4, target="train.epochs", group="recipe"),
    "ema_horizon": _c([0.0, 0.01, 0.03, 0.1], target="train.ema_horizon", group="recipe", ordered=True),
    "batch_size": _c([4, 8, 16], target="train.batch_size", group="recipe", ordered=True),
    "hflip_prob": _f(0.0, 0.5, target="train.augment.hflip_prob", group="recipe"),
    "color_jitter": _f(0.0, 0.4, target="train.augment.color_jitter", group="recipe"),
    "scale_jitter": _i(0, 64, 16, group="recipe"),  # derived: input.min_size_train
    "drop_path_rate": _f(0.0, 0.2, target="model.drop_path_rate", group="recipe"),
    "box_head_dropout": _f(0.0, 0.3, target="model.box_head_dropout", group="recipe"),
    # detector
    "pooler_resolution": _i(4, 8, 2, target="model.pooler_resolution", group="detector"),
    "rpn_iou_upper": _f(0.6, 0.8, group="detector"),  # derived: model.rpn.iou_thresholds
    "rpn_iou_gap": _f(0.2, 0.5, group="detector"),
    "roi_iou_upper": _f(0.4, 0.6, group="detector"),  # derived: model.roi_heads.iou_thresholds
    "roi_iou_gap": _f(0.0, 0.2, group="detector"),
    "rpn_pre_nms_topk_train": _i(1000, 3000, 500, target="model.rpn.pre_nms_topk_train", group="detector"),
    "rpn_post_nms_topk_train": _i(500, 2000, 500, target="model.rpn.post_nms_topk_train", group="detector"),
    "rpn_pre_nms_topk_test": _i(500, 1500, 250, target="model.rpn.pre_nms_topk_test", group="detector"),
    "rpn_post_nms_topk_test": _i(10, 100, 10, target="model.rpn.post_nms_topk_test", group="detector"),
    "norm": _c(["naiveSyncBN", "GN"], target="model.norm", group="detector"),
    "freeze_at": _i(0, 2, target="model.freeze_at", group="detector"),
}
DERIVED_WRITES: dict[str, tuple[str, ...]] = {
    "min_size": ("input.min_size", "input.max_size"),
    "scale_jitter": ("input.min_size_train",),
    "rpn_iou_upper": ("model.rpn.iou_thresholds",),
    "rpn_iou_gap": ("model.rpn.iou_thresholds",),
    "roi_iou_upper": ("model.roi_heads.iou_thresholds",),
    "roi_iou_gap": ("model.roi_heads.iou_thresholds",),
}
"""The config fields each derived parameter writes."""
DERIVED_TARGETS = tuple(dict.fromkeys(t for targets in DERIVED_WRITES.values() for t in targets))
PROPOSAL_COUNTS = {"rpn_pre_nms_topk_train": "train", "rpn_post_nms_topk_train": "train",
                   "rpn_pre_nms_topk_test": "test", "rpn_post_nms_topk_test": "test"}
"""Proposal counts and the phase whose input bounds them: a count keeps at most every anchor of the image."""
SUPERSEDES = {"train.warmup_fraction": "train.warmup_iters", "train.ema_horizon": "train.ema_decay"}
"""A schedule-relative field replaces its absolute twin when set (`TrainConfig.resolved`)."""


def jitter_sizes(min_size: int, jitter: float) -> list[int]:
    """Training sizes from min_size - jitter to min_size + jitter, symmetric, about JITTER_STEP apart."""
    if jitter <= 0:
        return []
    count = 2 * math.ceil(jitter / JITTER_STEP) + 1
    sizes = np.rint(np.linspace(min_size - jitter, min_size + jitter, count)).astype(int)
    return sorted({max(16, int(s)) for s in sizes})


def read_derived(data: Mapping[str, Any]) -> dict[str, Any]:
    """Values of the derived parameters from a config dict (the inverse of `write_derived`)."""
    inputs, rpn, roi = data["input"], data["model"]["rpn"], data["model"]["roi_heads"]
    sizes = inputs["min_size_train"]
    return {
        "min_size": inputs["min_size"],
        "scale_jitter": max(sizes) - inputs["min_size"] if sizes else 0,
        "rpn_iou_upper": rpn["iou_thresholds"][1],
        "rpn_iou_gap": round(rpn["iou_thresholds"][1] - rpn["iou_thresholds"][0], 10),  # 0.8 - 0.3 is 0.5000000000000001
        "roi_iou_upper": roi["iou_thresholds"][1],
        "roi_iou_gap": round(roi["iou_thresholds"][1] - roi["iou_thresholds"][0], 10),
    }


def write_derived(data: dict[str, Any], values: Mapping[str, Any], max_size_ratio: float) -> None:
    """Set input sizes and IoU pairs in a config dict from the derived parameters' values."""
    min_size = values["min_size"]
    data["input"].update(
        min_size=min_size, max_size=round(min_size * max_size_ratio), min_size_train=jitter_sizes(min_size, values["scale_jitter"])
    )
    for section, prefix in ((data["model"]["rpn"], "rpn"), (data["model"]["roi_heads"], "roi")):
        upper = values[f"{prefix}_iou_upper"]
        lower = round(max(0.0, upper - values[f"{prefix}_iou_gap"]), 10)  # 0.7 - 0.4 is 0.29999999999999993
        section["iou_thresholds"] = [min(lower, upper), upper]
