"""Our checkpoint format: weights plus everything needed to rebuild the model, written atomically.

A checkpoint is a plain dict of tensors and plain data (loadable with `weights_only=True`):
`{"format": FORMAT, "model": state_dict, "config": resolved config dict, "class_names": [...],
"label_to_category_id": {label: category id}, ...training state...}`. `last.pt` adds the
optimizer, scheduler, EMA and RNG state for exact resume; `model_final.pt` carries only weights.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from core.atomic import atomic_open
from core.errors import CheckpointError
from detector.config import DetectorConfig, load_config
from detector.weights.hub import read_checkpoint

FORMAT = "fbnetv3od-checkpoint-v1"


def save_checkpoint(data: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """`torch.save` to a temporary file in the same folder, fsync, then rename over `path`.

    A kill at any moment leaves either the previous complete file or the new complete file.
    """
    with atomic_open(path, "wb") as handle:
        torch.save({"format": FORMAT, **data}, handle)


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read one of our checkpoints (weights_only); clear error when it is something else."""
    data = read_checkpoint(path)
    if data.get("format") != FORMAT:
        raise CheckpointError(
            f"{path}: not an FBNetV3OD training checkpoint (no '{FORMAT}' marker); "
            "original d2go checkpoints are used through model.weights instead"
        )
    return data


def model_from_checkpoint(path: str | os.PathLike[str], device: str | torch.device = "cpu", use_ema: bool = True) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuild the detector saved in `path` (EMA weights when present) in eval mode; return it and the checkpoint."""
    from detector.modeling.model import build_detector
    from detector.weights.loading import load_state_dict_into

    data = load_checkpoint(path)
    config: DetectorConfig = load_config(data["config"])
    model = build_detector(config, num_classes=len(data["class_names"]), load_weights=False)
    state = data.get("ema_model") if use_ema and data.get("ema_model") else data["model"]
    report = load_state_dict_into(model, state, source=str(path))
    if report.missing or report.reinitialized:
        raise CheckpointError(f"{path}: does not match its own config ({report.summary()})")
    return model.to(device).eval(), data
