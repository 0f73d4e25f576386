"""Weights for an architecture that differs from the checkpoint's, by Once-for-All's inheritance rules.

A searched FBNetV3 arch keeps its template's layout (stages of block entries, `search_spaces.fbnetv3.arch`), so
every block has a counterpart position in the checkpoint's arch: the same stage (or tower), block entry
and repeat. That is OFA's elastic depth (Cai et al. 2020): a shallower group keeps its first blocks, and a
block a deeper group adds has no counterpart. Inside a counterpart every tensor takes the checkpoint's
values by OFA's elastic width and kernel rules: the leading output and input channels (OFA first sorts
channels by importance; leading channels are its simpler variant, and what a checkpoint trained without
that sorting supports), and the centre of a larger kernel. A tensor larger than its counterpart (a wider
or deeper-kernel block) gets the checkpoint's values in its leading channels / centre and keeps its fresh
initialisation elsewhere, as does every tensor with no counterpart.

Each tensor is `exact` (the same shape), `partial` (cut or embedded) or `scratch`; the model's `init`
is `inherited` when every tensor but the class-specific predictor is exact, `scratch` when nothing was
copied, else `partial`, and `inherited_share` is the share of parameters whose values came from the file.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from core.errors import CheckpointError
from detector.modeling.backbones.fbnet import parse_detection_arch
from detector.modeling.backbones.registry import list_archs
from detector.modeling.backbones.spec import DetectionArch
from detector.weights.d2go import D2GO_MARKERS, from_d2go_state_dict
from detector.weights.hub import cached_checkpoint
from detector.weights.loading import extract_state_dict
from detector.weights.registry import WEIGHTS, resolve_weights

log = logging.getLogger(__name__)

CLASS_SPECIFIC = ("roi_heads.box_predictor.cls_score.", "roi_heads.box_predictor.bbox_pred.")
_BLOCK_KEY = re.compile(r"^(?:backbone\.body\.trunk(?P<stage>\d+)|(?P<tower>rpn\.head|roi_heads\.box_head)\.tower)\.(?P<index>\d+)\.(?P<rest>.+)$")
_NOT_COUNTED = ("num_batches_tracked",)

Position = tuple[int, int, int]
"""(entry, repeat, -1) of a block inside its stage, or (-1, -1, flat index) when the layouts differ."""


@dataclass
class InheritReport:
    """What a model took from a checkpoint: tensor names by kind, and the share of parameters copied."""

    source: str
    source_arch: str
    exact: list[str] = field(default_factory=list)
    partial: list[str] = field(default_factory=list)
    scratch: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)
    copied_params: int = 0
    total_params: int = 0

    @property
    def inherited_share(self) -> float:
        return self.copied_params / self.total_params if self.total_params else 0.0

    @property
    def init(self) -> str:
        if not self.copied_params:
            return "scratch"
        rest = [k for k in (*self.partial, *self.scratch) if not k.startswith(CLASS_SPECIFIC)]
        return "partial" if rest else "inherited"

    def summary(self) -> str:
        parts = [f"inherited {self.inherited_share:.1%} of the parameters from {self.source} ({self.source_arch}): init {self.init}",
                 f"{len(self.exact)} tensors whole, {len(self.partial)} cut or embedded, {len(self.scratch)} initialised"]
        if self.scratch:
            parts.append(f"e.g. {self.scratch[0]}")
        return "; ".join(parts)


# ---------------------------------------------------------------- block positions


def _stages(arch: DetectionArch) -> list[list[Any]]:
    return [*arch.trunk, arch.rpn, arch.bbox]


def _stage_index(match: re.Match[str], trunk_stages: int) -> int:
    if match["stage"] is not None:
        return int(match["stage"])
    return trunk_stages if match["tower"] == "rpn.head" else trunk_stages + 1


def _block_prefix(stage: int, index: int, trunk_stages: int) -> str:
    if stage < trunk_stages:
        return f"backbone.body.trunk{stage}.{index}."
    return f"{'rpn.head' if stage == trunk_stages else 'roi_heads.box_head'}.tower.{index}."


def _positions(arch: DetectionArch, by_entry: list[bool]) -> list[list[Position]]:
    """The position of each flat block of each stage (by entry and repeat where both layouts agree)."""
    positions: list[list[Position]] = []
    for stage, blocks in enumerate(_stages(arch)):
        flat: list[Position] = []
        for entry, block in enumerate(blocks):
            flat += [(entry, repeat, -1) for repeat in range(block.repeats)]
        positions.append(flat if by_entry[stage] else [(-1, -1, i) for i in range(len(flat))])
    return positions


def counterpart_keys(target: DetectionArch, source: DetectionArch, keys: list[str]) -> dict[str, str]:
    """Target state-dict key -> the checkpoint key at the same position (blocks) or of the same name (heads)."""
    t_stages, s_stages = _stages(target), _stages(source)
    if len(t_stages) != len(s_stages):
        return {}
    by_entry = [len(t) == len(s) for t, s in zip(t_stages, s_stages)]
    source_index = [{pos: i for i, pos in enumerate(stage)} for stage in _positions(source, by_entry)]
    target_positions = _positions(target, by_entry)
    trunk = len(target.trunk)
    mapping: dict[str, str] = {}
    for key in keys:
        match = _BLOCK_KEY.match(key)
        if match is None:
            mapping[key] = key
            continue
        stage = _stage_index(match, trunk)
        index = int(match["index"])
        if stage >= len(target_positions) or index >= len(target_positions[stage]):
            continue
        found = source_index[stage].get(target_positions[stage][index])
        if found is not None:
            mapping[key] = _block_prefix(stage, found, trunk) + match["rest"]
    return mapping


# ---------------------------------------------------------------- tensors


def overlap(source: torch.Size, target: torch.Size) -> tuple[tuple[slice, ...], tuple[slice, ...]] | None:
    """Slices of the shared part: leading along channel dims (0, 1), centred along kernel dims (2+)."""
    if len(source) != len(target):
        return None
    src, dst = [], []
    for dim, (a, b) in enumerate(zip(source, target)):
        n = min(a, b)
        if dim < 2:
            src.append(slice(0, n))
            dst.append(slice(0, n))
        else:
            src.append(slice((a - n) // 2, (a - n) // 2 + n))
            dst.append(slice((b - n) // 2, (b - n) // 2 + n))
    return tuple(src), tuple(dst)


def _class_layout_error(state: dict[str, Tensor]) -> str | None:
    scores = state.get(f"{CLASS_SPECIFIC[0]}weight")
    boxes = state.get(f"{CLASS_SPECIFIC[1]}weight")
    if scores is not None and boxes is not None and boxes.shape[0] != 4 * scores.shape[0]:
        return (f"its box predictor has {scores.shape[0]} class scores but {boxes.shape[0]} box rows "
                "(expected 4 per class, background included)")
    return None


# ---------------------------------------------------------------- the checkpoint's arch


def _skeleton(model_type: type[nn.Module], arch: Any, norm: str = "BN") -> nn.Module:
    """The detector of `arch` on the meta device: key names and shapes, no memory, no init cost.

    `model_type` is the class of the model being loaded (FBNetV3OD), passed in because `detector.modeling.model`
    imports this module to load weights."""
    from detector.config import load_config

    config = load_config({"model": {"arch": arch, "weights": None, "freeze_at": 0, "norm": norm, "num_classes": 1}})
    with torch.device("meta"):
        return model_type(config, 1)


def _network_shapes(state: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in state.items()
            if not k.startswith(CLASS_SPECIFIC) and not k.endswith(("num_batches_tracked", "running_mean", "running_var"))}


def _registered_arch_of(state: dict[str, Tensor], model_type: type[nn.Module]) -> str | None:
    """The registered arch whose network tensors (names and shapes) are exactly the file's, if any."""
    d2go = any(k.startswith(D2GO_MARKERS) for k in state)
    for name in list_archs():
        skeleton = _skeleton(model_type, name)
        ours = from_d2go_state_dict(state, skeleton)[0] if d2go else state
        if _network_shapes(ours) == _network_shapes(skeleton.state_dict()):
            return name
    return None


def _source(name_or_path: str, prefer_ema: bool, model_type: type[nn.Module]) -> tuple[str, DetectionArch, dict[str, Tensor]]:
    """(arch name, arch, state dict in our key layout) of `model.weights`, once per process and file version."""
    path = resolve_weights(name_or_path).resolve()
    stat = path.stat()
    return _read_source(name_or_path, path, stat.st_mtime_ns, stat.st_size, prefer_ema, model_type)


@functools.lru_cache(maxsize=4)
def _read_source(name_or_path: str, path: Path, mtime_ns: int, size: int, prefer_ema: bool,
                 model_type: type[nn.Module]) -> tuple[str, DetectionArch, dict[str, Tensor]]:
    """The cache of `_source`; mtime and size are part of the key only (a rewritten file is read again)."""
    checkpoint = cached_checkpoint(path)
    try:
        state = extract_state_dict(checkpoint, prefer_ema=prefer_ema)
    except CheckpointError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    state = {k: v for k, v in state.items() if not k.startswith("roi_heads.mask_head.")}
    if isinstance(checkpoint.get("config"), dict):  # ours: the config names the arch
        arch_source = checkpoint["config"].get("model", {}).get("arch")
    elif name_or_path in WEIGHTS:
        arch_source = WEIGHTS[name_or_path].arch
    else:
        arch_source = _registered_arch_of(state, model_type)
    if arch_source is None:
        raise CheckpointError(
            f"{path}: its tensors match no registered FBNet arch, so there is nothing to inherit by; "
            "use an FBNetV3OD checkpoint (it names its arch) or a d2go FBNetV3 checkpoint"
        )
    try:
        arch = parse_detection_arch(arch_source)
    except ValueError as exc:
        raise CheckpointError(f"{path}: its config's model.arch is not valid here: {exc}") from None
    if any(k.startswith(D2GO_MARKERS) for k in state):
        state = from_d2go_state_dict(state, _skeleton(model_type, arch_source))[0]
    problem = _class_layout_error(state)
    if problem:
        raise CheckpointError(f"{path}: {problem}")
    label = arch_source if isinstance(arch_source, str) else "inline arch"
    return label, arch, state


# ---------------------------------------------------------------- planning and copying


def inherit_from(model: nn.Module, arch: Any, name_or_path: str, *, copy: bool = True, prefer_ema: bool = False) -> InheritReport:
    """What `model` (of `arch`) takes from `model.weights` by the rules above; copied into it unless `copy`
    is false (then `model` may live on the meta device: only shapes are read)."""
    label, source_arch, state = _source(str(name_or_path), prefer_ema, type(model))
    own = model.state_dict()
    parameters = {name for name, _ in model.named_parameters()}
    mapping = counterpart_keys(parse_detection_arch(arch), source_arch, list(own))
    report = InheritReport(source=str(name_or_path), source_arch=label)
    updates: dict[str, Tensor] = {}
    for key, target in own.items():
        if key.endswith(_NOT_COUNTED):
            continue
        counted = target.numel() if key in parameters else 0
        report.total_params += counted
        source = state.get(mapping.get(key, ""))
        class_count_differs = key.startswith(CLASS_SPECIFIC) and source is not None and source.shape[0] != target.shape[0]
        slices = None if source is None or class_count_differs else overlap(source.shape, target.shape)
        if slices is None:
            report.scratch.append(key)
            continue
        (report.exact if source.shape == target.shape else report.partial).append(key)
        shared = source[slices[0]]
        report.copied_params += shared.numel() if counted else 0
        if copy:
            value = target.detach().clone()
            value[slices[1]] = shared.to(value.dtype)
            updates[key] = value
    used = {mapping[k] for k in (*report.exact, *report.partial)}
    report.unused = [k for k in state if k not in used and not k.endswith(_NOT_COUNTED)]
    if copy:
        model.load_state_dict(updates, strict=False)
        log.info(report.summary())
    return report
