"""Pretrained weights: a registry of the original d2go checkpoints, atomic download, key mapping.

d2go checkpoints name modules `backbone.body.trunk{i}.fbnetv2_{i}_{j}.pw.conv.weight`,
`proposal_generator.rpn_head.rpn_feature.0...`, `roi_heads.box_head.roi_box_conv.0...` and keep the
background class as the LAST column of `cls_score` with 4*K rows in `bbox_pred`; torchvision (and
so FBNetV3OD) puts background FIRST with 4*(K+1) rows. `to_d2go_key` maps one of our keys to the
original name; loading inverts it through the model's own key list, so there is one mapping.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import pickle
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from core.atomic import atomic_open
from core.errors import CheckpointError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PretrainedWeights:
    name: str
    url: str
    arch: str
    sha256: str | None = None
    num_classes: int = 80
    box_ap: float | None = None


# The Faster R-CNN checkpoints of d2go's MODEL_ZOO.md (COCO 2017, 80 classes). No hashes are
# published for them, so a download is checked for completeness and loadability, not for SHA-256.
WEIGHTS: dict[str, PretrainedWeights] = {
    w.name: w
    for w in (
        PretrainedWeights(
            "FBNetV3a-DSMask-C4 COCO",
            "https://mobile-cv.s3-us-west-2.amazonaws.com/d2go/models/250414811/model_0399999.pth",
            "fbnetv3_a_dsmask",
            box_ap=21.06,
        ),
        PretrainedWeights(
            "FBNetV3a-C4 COCO",
            "https://mobile-cv.s3-us-west-2.amazonaws.com/d2go/models/246823121/model_0479999.pth",
            "fbnetv3_a",
            box_ap=22.99,
        ),
    )
}

_PREFIX_TO_D2GO: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^backbone\.body\.trunk(\d+)\.(\d+)\."), r"backbone.body.trunk\1.fbnetv2_\1_\2."),
    (re.compile(r"^rpn\.head\.tower\.(\d+)\."), r"proposal_generator.rpn_head.rpn_feature.0.fbnetv2_0_\1."),
    (re.compile(r"^rpn\.head\.(cls_logits|bbox_pred)\."), r"proposal_generator.rpn_head.rpn_regressor.\1."),
    (re.compile(r"^roi_heads\.box_head\.tower\.(\d+)\."), r"roi_heads.box_head.roi_box_conv.0.fbnetv2_0_\1."),
    (re.compile(r"^roi_heads\.box_predictor\."), r"roi_heads.box_predictor."),
]
# Inside a block: torchvision's Conv2dNormActivation children are 0 (conv) and 1 (norm);
# torchvision's SqueezeExcitation has fc1/fc2 where mobile_cv has se.0.conv / se.1.
_SUFFIX_TO_D2GO: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^(pw|dw|pwl)\.0\."), r"\1.conv."),
    (re.compile(r"^(pw|dw|pwl)\.1\."), r"\1.bn."),
    (re.compile(r"^se\.fc1\."), "se.se.0.conv."),
    (re.compile(r"^se\.fc2\."), "se.se.1."),
    (re.compile(r"^0\."), "conv."),
    (re.compile(r"^1\."), "bn."),
]
_PREDICTOR = ("roi_heads.box_predictor.cls_score", "roi_heads.box_predictor.bbox_pred")
D2GO_MARKERS = ("proposal_generator.", "backbone.body.trunk0.fbnetv2_")


def to_d2go_key(key: str) -> str:
    """Map one FBNetV3OD state-dict key to the original d2go name."""
    for pattern, repl in _PREFIX_TO_D2GO:
        match = pattern.match(key)
        if match:
            head = match.expand(repl)
            rest = key[match.end() :]
            for sub_pattern, sub_repl in _SUFFIX_TO_D2GO:
                if sub_pattern.match(rest):
                    rest = sub_pattern.sub(sub_repl, rest, count=1)
                    break
            return head + rest
    return key


def _predictor_to_d2go(key: str, value: Tensor) -> Tensor:
    """Background first -> last for `cls_score`; drop the 4 background rows of `bbox_pred`."""
    if key.startswith(_PREDICTOR[0]):
        return torch.cat([value[1:], value[:1]])
    if key.startswith(_PREDICTOR[1]):
        return value[4:]
    return value


def _predictor_from_d2go(key: str, value: Tensor) -> Tensor:
    """Inverse of `_predictor_to_d2go`; the background box rows are unused by the loss, so zero."""
    if key.startswith(_PREDICTOR[0]):
        return torch.cat([value[-1:], value[:-1]])
    if key.startswith(_PREDICTOR[1]):
        return torch.cat([value.new_zeros((4, *value.shape[1:])), value])
    return value


def to_d2go_state_dict(state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
    """Export our state dict in the original d2go layout (names and predictor layout)."""
    return {to_d2go_key(k): _predictor_to_d2go(k, v) for k, v in state_dict.items()}


def from_d2go_state_dict(d2go_state: dict[str, Tensor], model: nn.Module) -> tuple[dict[str, Tensor], list[str]]:
    """Rename a d2go state dict to the model's keys; returns it and the keys it has no place for."""
    ours_by_d2go = {to_d2go_key(k): k for k in model.state_dict()}
    converted: dict[str, Tensor] = {}
    unused: list[str] = []
    for key, value in d2go_state.items():
        ours = ours_by_d2go.get(key)
        if ours is None:
            unused.append(key)
        else:
            converted[ours] = _predictor_from_d2go(ours, value)
    return converted, unused


# ---------------------------------------------------------------- files


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """`torch.load(weights_only=True)` with one-line errors for missing, truncated or unsafe files."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        unsafe = re.search(r"unsupported GLOBAL (\S+)", str(exc))
        if unsafe:
            raise CheckpointError(
                f"{path}: refused to load: it would import {unsafe.group(1)} (weights_only=True allows tensors and plain data only)"
            ) from None
        raise CheckpointError(f"{path}: not a readable checkpoint (truncated, corrupt or not a torch file)") from None
    except Exception:  # torch raises RuntimeError, EOFError, KeyError, zip errors ... for bad bytes
        raise CheckpointError(f"{path}: not a readable checkpoint (truncated, corrupt or not a torch file)") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: expected a dict checkpoint, got {type(data).__name__}")
    return data


def cached_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """`read_checkpoint` once per process and file version (resolved path, mtime, size).

    Every search trial that a Ray worker runs fine-tunes from the same file; reading it once per
    worker instead of once per trial saves the load (seconds for a COCO checkpoint). A rewritten
    file has a new mtime or size and is read again. Callers must not modify the returned tensors.
    """
    path = Path(path).resolve()
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    stat = path.stat()
    return _read_once(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=2)
def _read_once(path: Path, mtime_ns: int, size: int) -> dict[str, Any]:
    """The cache of `cached_checkpoint`; mtime and size are part of the key only."""
    return read_checkpoint(path)


def _cache_dir() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / "fbnetv3od"


def download(url: str, sha256: str | None = None, timeout: float = 30.0) -> Path:
    """Fetch `url` into the torch hub cache, atomically (`core.atomic`: an interrupted download leaves no
    file at the target), verifying SHA-256 when one is known.

    Hand-written instead of `torch.hub.download_url_to_file` because that one has no timeout
    (offline machines would hang) and checks only a hash prefix.
    """
    target = _cache_dir() / url.rstrip("/").split("/")[-2] / url.rstrip("/").split("/")[-1]
    if target.is_file():
        return target
    digest = hashlib.sha256()
    try:
        with atomic_open(target, "wb", suffix=".part") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            while chunk := response.read(1 << 20):
                out.write(chunk)
                digest.update(chunk)
            if sha256 and digest.hexdigest() != sha256:
                raise CheckpointError(f"download of {url} has SHA-256 {digest.hexdigest()}, expected {sha256}; not used")
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise CheckpointError(
            f"could not download {url} ({reason}); download it on a machine with internet access and set "
            f"model.weights to the local file path"
        ) from None
    return target


def resolve_weights(name_or_path: str) -> Path:
    """Registry name -> cached download; anything else must be an existing local file."""
    if name_or_path in WEIGHTS:
        entry = WEIGHTS[name_or_path]
        return download(entry.url, entry.sha256)
    path = Path(name_or_path).expanduser()
    if not path.is_file():
        raise CheckpointError(
            f"model.weights: '{name_or_path}' is neither a registered name ({', '.join(WEIGHTS)}) nor an existing file"
        )
    return path


# ---------------------------------------------------------------- loading


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
