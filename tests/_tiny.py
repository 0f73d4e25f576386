"""Tiny training setup shared by the engine and CLI tests: a few synthetic images and a detector
small enough that an epoch takes about a second on two CPU cores."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

TINY_CONFIG: dict[str, Any] = {
    "model": {
        "arch": "fbnetv3_a_dsmask_tiny",
        "weights": None,
        "norm": "BN",
        "freeze_at": 0,
        "rpn": {
            "batch_size_per_image": 32,
            "pre_nms_topk_train": 200,
            "post_nms_topk_train": 100,
            "pre_nms_topk_test": 100,
            "post_nms_topk_test": 30,
        },
        "roi_heads": {"batch_size_per_image": 32},
    },
    "input": {"min_size": 64, "max_size": 96},
    "train": {"epochs": 2, "batch_size": 2, "lr": 0.02, "warmup_iters": 3, "num_workers": 0, "eval_every": 0},
}


def tiny_config(**train: Any) -> dict[str, Any]:
    """The tiny config with `train` fields overridden."""
    config = copy.deepcopy(TINY_CONFIG)
    config["train"].update(train)
    return config


def make_synthetic(root: Path, num_train: int = 8, num_val: int = 4) -> Path:
    from detector.synthetic import generate_synthetic_coco

    return generate_synthetic_coco(root, num_train=num_train, num_val=num_val, image_size=(96, 128), seed=0)
