"""Declarative FBNet architecture specs: blocks, stages and whole detection archs.

A block is written either as d2go's tuple `(kind, out_channels, stride, repeats, {options})`, where
`kind` packs kernel, SE and activation (`conv_k3`, `ir_k5_se`, `ir_k3_sehsig_hs`, `ir_pool_hs`),
or as a dict with explicit fields (`{kind: ir, channels: 112, kernel: 5, se: true, ...}`), which is
what the search space writes. Both parse to the same `BlockSpec`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Literal

Activation = Literal["relu", "hswish"]
Gate = Literal["sigmoid", "hsigmoid"]

_KIND = re.compile(r"^(?P<base>conv|ir)_k(?P<k>\d+)(?P<se>_se|_sehsig)?(?P<hs>_hs)?$|^(?P<pool>ir_pool)(?P<phs>_hs)?$")
_OPTION_KEYS = {"expansion", "dw_padding", "dw_group_ratio"}
_DICT_KEYS = {"kind", "channels", "stride", "repeats", "kernel", "expansion", "se", "se_gate", "activation"} | _OPTION_KEYS


@dataclass(frozen=True)
class BlockSpec:
    """One (possibly repeated) block; only the first repeat uses `stride`."""

    kind: Literal["conv", "ir", "ir_pool"]
    channels: int
    stride: int = 1
    repeats: int = 1
    kernel: int = 3
    expansion: float = 1.0
    se: bool = False
    se_gate: Gate = "sigmoid"
    activation: Activation = "relu"
    dw_padding: int | None = None
    dw_group_ratio: int | None = None

    def __post_init__(self) -> None:
        if self.channels < 1:
            raise ValueError(f"block channels must be >= 1, got {self.channels}")
        if self.stride not in (1, 2):
            raise ValueError(f"block stride must be 1 or 2, got {self.stride} (upsampling blocks are mask-head only)")
        if self.repeats < 0:
            raise ValueError(f"block repeats must be >= 0, got {self.repeats}")
        if self.kernel < 1 or self.kernel % 2 == 0:
            raise ValueError(f"block kernel must be odd and >= 1, got {self.kernel}")
        if self.expansion <= 0:
            raise ValueError(f"block expansion must be > 0, got {self.expansion}")

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class DetectionArch:
    """Trunk stages (the last one ends at the RPN/RoI feature), the RPN tower and the box-head tower."""

    trunk: list[list[BlockSpec]]
    rpn: list[BlockSpec]
    bbox: list[BlockSpec]
    width_divisor: int = 8

    @property
    def stage_strides(self) -> list[int]:
        """The input stride at the end of each trunk stage (a block with no repeats does not stride)."""
        strides, stride = [], 1
        for stage in self.trunk:
            for block in stage:
                stride *= block.stride if block.repeats else 1
            strides.append(stride)
        return strides

    def to_dict(self) -> dict[str, Any]:
        return {
            "trunk": [[b.to_dict() for b in stage] for stage in self.trunk],
            "rpn": [b.to_dict() for b in self.rpn],
            "bbox": [b.to_dict() for b in self.bbox],
            "width_divisor": self.width_divisor,
        }


def parse_block(raw: Any) -> BlockSpec:
    """Parse a tuple/list `(kind, channels, stride, repeats, {options})` or a dict into a `BlockSpec`."""
    if isinstance(raw, BlockSpec):
        return raw
    if isinstance(raw, dict):
        unknown = set(raw) - _DICT_KEYS
        if unknown:
            raise ValueError(f"unknown block keys {sorted(unknown)}; allowed: {sorted(_DICT_KEYS)}")
        if "kind" not in raw or "channels" not in raw:
            raise ValueError(f"a block needs 'kind' and 'channels', got {raw}")
        return BlockSpec(**raw)
    if not isinstance(raw, (list, tuple)) or len(raw) < 4 or len(raw) > 5:
        raise ValueError(f"a block is [kind, channels, stride, repeats, {{options}}] or a dict, got {raw!r}")
    kind, channels, stride, repeats = raw[:4]
    options = dict(raw[4]) if len(raw) == 5 else {}
    unknown = set(options) - _OPTION_KEYS
    if unknown:
        raise ValueError(f"unknown block options {sorted(unknown)}; allowed: {sorted(_OPTION_KEYS)}")
    match = _KIND.match(str(kind))
    if not match:
        raise ValueError(f"unknown block kind '{kind}'; expected conv_k<k>[_hs], ir_k<k>[_se|_sehsig][_hs] or ir_pool[_hs]")
    if match["pool"]:
        fields: dict[str, Any] = {"kind": "ir_pool", "activation": "hswish" if match["phs"] else "relu"}
    else:
        fields = {
            "kind": match["base"],
            "kernel": int(match["k"]),
            "se": bool(match["se"]),
            "se_gate": "hsigmoid" if match["se"] == "_sehsig" else "sigmoid",
            "activation": "hswish" if match["hs"] else "relu",
        }
    return BlockSpec(channels=int(channels), stride=int(stride), repeats=int(repeats), **fields, **options)


def parse_stage(raw: Any) -> list[BlockSpec]:
    if not isinstance(raw, (list, tuple)) or not raw:
        raise ValueError(f"a stage is a non-empty list of blocks, got {raw!r}")
    return [parse_block(b) for b in raw]


def _flat_tower(raw: Any, name: str) -> list[BlockSpec]:
    """Towers are one stage; accept both `[block, ...]` and d2go's `[[block, ...]]`."""
    if not isinstance(raw, (list, tuple)) or not raw:
        raise ValueError(f"arch '{name}' must be a non-empty list of blocks")
    if len(raw) == 1 and isinstance(raw[0], (list, tuple)) and raw[0] and isinstance(raw[0][0], (list, tuple, dict)):
        raw = raw[0]
    return parse_stage(raw)


def parse_detection_spec(raw: dict[str, Any]) -> DetectionArch:
    """Build a `DetectionArch` from `{trunk: [[...], ...], rpn: [...], bbox: [...], width_divisor: 8}`."""
    unknown = set(raw) - {"trunk", "rpn", "bbox", "width_divisor"}
    if unknown:
        raise ValueError(f"unknown arch keys {sorted(unknown)}; allowed: trunk, rpn, bbox, width_divisor")
    for key in ("trunk", "rpn", "bbox"):
        if key not in raw:
            raise ValueError(f"an inline arch needs '{key}'")
    trunk = raw["trunk"]
    if not isinstance(trunk, (list, tuple)) or not trunk:
        raise ValueError("arch 'trunk' must be a non-empty list of stages")
    stages = [parse_stage(s) for s in trunk]
    if stages[0][0].kind != "conv":
        raise ValueError("the first trunk block must be a conv stem (kind conv)")
    divisor = int(raw.get("width_divisor", 8))
    if divisor < 1:
        raise ValueError(f"width_divisor must be >= 1, got {divisor}")
    return DetectionArch(trunk=stages, rpn=_flat_tower(raw["rpn"], "rpn"), bbox=_flat_tower(raw["bbox"], "bbox"), width_divisor=divisor)
