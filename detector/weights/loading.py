"""Weights into a model: the state dict of a checkpoint in either layout (EMA weights on request), loaded with a report
of missing and unexpected keys, class-specific predictors re-initialised when the class count differs."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from torch import Tensor, nn

from core.errors import CheckpointError
from detector.weights.d2go import _PREDICTOR, D2GO_MARKERS, from_d2go_state_dict
from detector.weights.hub import cached_checkpoint
from detector.weights.registry import resolve_weights

log = logging.getLogger(__name__)


@dataclass
class LoadReport:
    source: str
    layout: str
    loaded: int = 0
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    reinitialized: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"loaded {self.loaded} tensors from {self.source} ({self.layout} layout)"]
        if self.reinitialized:
            parts.append(f"re-initialised {len(self.reinitialized)} class-specific predictor tensors (class count differs)")
        if self.missing:
            parts.append(f"{len(self.missing)} missing (e.g. {self.missing[0]})")
        if self.unexpected:
            parts.append(f"{len(self.unexpected)} unused (e.g. {self.unexpected[0]})")
        return "; ".join(parts)


def extract_state_dict(checkpoint: dict[str, Any], prefer_ema: bool = False) -> dict[str, Tensor]:
    """The model weights of a d2go/fvcore checkpoint (`model`, optionally `ema_state`), ours, or a bare state dict."""
    if prefer_ema and isinstance(checkpoint.get("ema_state"), dict) and checkpoint["ema_state"]:
        state = checkpoint["ema_state"]
    elif isinstance(checkpoint.get("model"), dict):
        state = checkpoint["model"]
    else:
        state = checkpoint
    tensors = {k: v for k, v in state.items() if isinstance(v, Tensor)}
    if not tensors:
        raise CheckpointError("checkpoint holds no tensors under 'model' (or at top level)")
    return tensors


def load_state_dict_into(model: nn.Module, state: dict[str, Tensor], source: str = "state dict") -> LoadReport:
    """Load weights in our or d2go's layout; mismatching class-specific predictors are re-initialised."""
    skipped_mask = sum(k.startswith("roi_heads.mask_head.") for k in state)
    state = {k: v for k, v in state.items() if not k.startswith("roi_heads.mask_head.")}
    layout = "d2go" if any(k.startswith(D2GO_MARKERS) for k in state) else "fbnetv3od"
    unused: list[str] = []
    if layout == "d2go":
        state, unused = from_d2go_state_dict(state, model)
    own = model.state_dict()
    report = LoadReport(source=source, layout=layout)
    report.unexpected = unused + [k for k in state if k not in own]
    mismatched = [k for k in state if k in own and state[k].shape != own[k].shape]
    predictor = [k for k in mismatched if k.startswith(_PREDICTOR)]
    others = [k for k in mismatched if k not in predictor]
    if others:
        examples = ", ".join(f"{k} {tuple(state[k].shape)} vs model {tuple(own[k].shape)}" for k in others[:2])
        raise CheckpointError(
            f"{source} does not fit this architecture: {len(others)} tensors differ in shape (e.g. {examples})"
        )
    report.reinitialized = predictor
    usable = {k: v for k, v in state.items() if k in own and k not in mismatched}
    result = model.load_state_dict(usable, strict=False)
    report.loaded = len(usable)
    # FrozenBatchNorm2d and GroupNorm keep no `num_batches_tracked`; that is not a loss of weights.
    report.unexpected = [k for k in report.unexpected if not k.endswith("num_batches_tracked")]
    report.missing = [k for k in result.missing_keys if k not in predictor and not k.endswith("num_batches_tracked")]
    if skipped_mask:
        log.info("skipped %d mask-head tensors (FBNetV3OD has no mask head)", skipped_mask)
    return report


def read_weights(name_or_path: str, prefer_ema: bool = False) -> dict[str, Tensor]:
    """The state dict `model.weights` names (registry name or file), read once per process."""
    path = resolve_weights(name_or_path)
    checkpoint = cached_checkpoint(path)
    try:
        return extract_state_dict(checkpoint, prefer_ema=prefer_ema)
    except CheckpointError as exc:
        raise CheckpointError(f"{path}: {exc}") from None


def load_weights(model: nn.Module, name_or_path: str, prefer_ema: bool = False) -> LoadReport:
    """Resolve `model.weights` (registry name or file), load it (read once per process), and log what happened."""
    report = load_state_dict_into(model, read_weights(name_or_path, prefer_ema), source=str(name_or_path))
    log.warning(report.summary()) if (report.missing or report.reinitialized) else log.info(report.summary())
    return report
