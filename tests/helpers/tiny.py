"""Tiny training setup shared by the engine and CLI tests: a few synthetic images and a detector
small enough that an epoch takes about a second on two CPU cores."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
# environment for CLI subprocesses: one quiet OpenMP thread (CPU results then do not depend on the machine's cores)
CLI_ENV = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}

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


def make_synthetic(root: Path, num_train: int = 8, num_val: int = 4, max_objects: int = 4) -> Path:
    from detector.data.synthetic import generate_synthetic_coco

    return generate_synthetic_coco(
        root, num_train=num_train, num_val=num_val, image_size=(96, 128), seed=0, max_objects=max_objects
    )


def train_args(config: dict[str, Any], data: Path, output: Path) -> list[str]:
    """`detector.train` arguments: `config` (written beside `output`) on the training split of `data`, on the CPU,
    without evaluation (no val set). Prefix with `python -m` or `torchrun ... -m`."""
    import yaml

    config_file = output.parent / f"{output.name}.yaml"
    config_file.write_text(yaml.safe_dump(config))
    return ["detector.train", "--config", str(config_file), "--train-json", str(data / "train.json"),
            "--train-images", str(data / "images"), "--output", str(output), "--device", "cpu"]
