"""The architecture part of the FBNetV3 space: a template arch cut into groups of blocks.

A *group* is a run of consecutive template blocks with the same width (a stage in the FBNetV3
paper's sense; trunk stage 3 of d2go's C4 archs holds two). Groups are named `stem` (the conv
stem), `trunk<i>` or `trunk<i>a`, `trunk<i>b` when stage i holds several, `rpn` and `bbox` /
`bboxa`, `bboxb`. Each group has the parameters `<group>_width` (channels), `_depth` (number of
blocks), `_kernel`, `_expansion`, `_se` and `_se_gate` (only while `_se` is on); the stem has a
width only, and the RPN tower no width: as in d2go it repeats the trunk's last block, so its width
follows the trunk's output.

A parameter overrides that property on every block of its group; a property that is not searched
keeps the template's per-block values. Depth keeps the template's block list: the first `depth`
blocks, the last one repeated when the group grows (a block entry may end with 0 repeats), so that
the written arch has the template's layout and `read` can cut it back into the same groups.
Default ranges bracket d2go's FBNetV3 A..G and A-dsmask detection archs (plus the template).
"""

from __future__ import annotations

import math
import string
from dataclasses import dataclass, replace
from typing import Any

from core.errors import ConfigError
from detector.modeling.backbones.fbnet import parse_detection_arch
from detector.modeling.backbones.spec import BlockSpec, DetectionArch
from search_spaces.params import Choice, Int, Param

FAMILY = ("fbnetv3_a", "fbnetv3_b", "fbnetv3_c", "fbnetv3_d", "fbnetv3_e", "fbnetv3_f", "fbnetv3_g", "fbnetv3_a_dsmask")
"""Registered archs whose values the default ranges bracket (when they share the template's layout)."""

GATES = ("sigmoid", "hsigmoid")
IR_PROPERTIES = ("width", "depth", "kernel", "expansion", "se", "se_gate")
"""Parameters of a group of inverted-residual blocks (the stem has a width only, the rpn tower no width)."""


@dataclass(frozen=True)
class ArchGroup:
    """Template entries `[start, stop)` of stage `stage` (trunk stages, then the rpn, then the bbox tower)."""

    name: str
    stage: int
    start: int
    stop: int
    properties: tuple[str, ...]

    def param(self, prop: str) -> str:
        return f"{self.name}_{prop}"


def _runs(blocks: list[BlockSpec]) -> list[tuple[int, int]]:
    """[start, stop) of consecutive blocks sharing kind (conv or not) and width."""
    runs: list[tuple[int, int]] = []
    for i, block in enumerate(blocks):
        prev = blocks[i - 1] if i else None
        if prev is not None and (prev.kind == "conv") == (block.kind == "conv") and prev.channels == block.channels:
            runs[-1] = (runs[-1][0], i + 1)
        else:
            runs.append((i, i + 1))
    return runs


def _integral(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


class ArchTemplate:
    """Groups of a template arch; reads archs into group values and writes group values into archs."""

    def __init__(self, source: str | dict[str, Any]) -> None:
        try:
            self.arch = parse_detection_arch(source)
        except ValueError as exc:
            raise ConfigError(f"template: {exc}") from None
        self.source = source
        self.stages = [*self.arch.trunk, self.arch.rpn, self.arch.bbox]
        self.groups = self._cut()
        if self.arch.rpn[0].channels != self.arch.trunk[-1][-1].channels:
            raise ConfigError("template: the rpn tower must have the trunk's output width (d2go repeats the last trunk block)")

    def _stage_name(self, index: int) -> str:
        return "rpn" if index == len(self.arch.trunk) else "bbox" if index > len(self.arch.trunk) else f"trunk{index}"

    def _cut(self) -> list[ArchGroup]:
        groups = []
        for s, blocks in enumerate(self.stages):
            runs = _runs(blocks)
            ir_runs = [r for r in runs if blocks[r[0]].kind != "conv"]
            for a, b in runs:
                kind = blocks[a].kind
                if kind == "conv":
                    if s != 0 or a != 0:
                        where = self._stage_name(s)
                        raise ConfigError(f"template: only the first block of trunk stage 0 may be a conv (the stem), found one in {where}")
                    groups.append(ArchGroup("stem", s, a, b, ("width",)))
                    continue
                if kind != "ir":
                    raise ConfigError(f"template: {kind} blocks are classification-only, found one in {self._stage_name(s)}")
                if self._stage_name(s) == "rpn":
                    if len(runs) > 1:
                        raise ConfigError("template: the rpn tower must be one run of blocks of one width")
                    groups.append(ArchGroup("rpn", s, a, b, IR_PROPERTIES[1:]))
                    continue
                suffix = string.ascii_lowercase[ir_runs.index((a, b))] if len(ir_runs) > 1 else ""
                groups.append(ArchGroup(f"{self._stage_name(s)}{suffix}", s, a, b, IR_PROPERTIES))
        return groups

    @property
    def param_names(self) -> list[str]:
        return [g.param(p) for g in self.groups for p in g.properties]

    # ------------------------------------------------------------------ reading and writing

    def _layout_of(self, arch: DetectionArch) -> list[list[BlockSpec]]:
        if len(arch.trunk) != len(self.arch.trunk):
            raise ConfigError(f"model.arch: {len(arch.trunk)} trunk stages where the template has {len(self.arch.trunk)}")
        stages = [*arch.trunk, arch.rpn, arch.bbox]
        for s, (mine, theirs) in enumerate(zip(self.stages, stages)):
            if len(mine) != len(theirs):
                raise ConfigError(
                    f"model.arch: {self._stage_name(s)} has {len(theirs)} block entries where the template has {len(mine)}; "
                    "only archs with the template's layout map onto this space"
                )
        return stages

    def read(self, source: str | dict[str, Any] | DetectionArch) -> dict[str, Any]:
        """Group values of an arch with the template's layout (kernel, expansion, SE from each group's last block)."""
        stages = self._layout_of(parse_detection_arch(source))
        values: dict[str, Any] = {}
        for g in self.groups:
            blocks = stages[g.stage][g.start : g.stop]
            last = blocks[-1]
            read = {
                "width": last.channels,
                "depth": sum(b.repeats for b in blocks),
                "kernel": last.kernel,
                "expansion": _integral(last.expansion),
                "se": last.se,
                "se_gate": last.se_gate,
            }
            values.update({g.param(p): read[p] for p in g.properties if p != "se_gate" or last.se})
        return values

    def build(self, values: dict[str, Any]) -> dict[str, Any]:
        """Inline arch dict: the template with every given group property applied (see module doc)."""
        stages = [list(blocks) for blocks in self.stages]
        fields = {"width": "channels", "kernel": "kernel", "expansion": "expansion", "se": "se", "se_gate": "se_gate"}
        for g in self.groups:
            changes = {fields[p]: values[g.param(p)] for p in fields if p in g.properties and g.param(p) in values}
            blocks = [replace(b, **changes) for b in stages[g.stage][g.start : g.stop]]
            if g.param("depth") in values:
                remaining = values[g.param("depth")]
                for i, block in enumerate(blocks):
                    take = remaining if i == len(blocks) - 1 else min(block.repeats, remaining)
                    blocks[i] = replace(block, repeats=take)
                    remaining -= take
            stages[g.stage][g.start : g.stop] = blocks
        trunk_width = stages[len(self.arch.trunk) - 1][-1].channels
        rpn = [replace(b, channels=trunk_width) for b in stages[len(self.arch.trunk)]]
        arch = DetectionArch(stages[: len(self.arch.trunk)], rpn, stages[-1], self.arch.width_divisor)
        return arch.to_dict()

    # ------------------------------------------------------------------ default ranges and checks

    def default_specs(self) -> dict[str, dict[str, Any]]:
        """YAML-style specs bracketing the values of `FAMILY` archs with the template's layout."""
        seen: dict[str, list[Any]] = {name: [] for name in self.param_names}
        for source in (self.source, *FAMILY):
            try:
                stages = self._layout_of(parse_detection_arch(source))
            except ConfigError:
                continue
            for g in self.groups:
                blocks = stages[g.stage][g.start : g.stop]
                observed = {
                    "width": [b.channels for b in blocks],
                    "depth": [sum(b.repeats for b in blocks)],
                    "expansion": [b.expansion for b in blocks],
                }
                for prop, values in observed.items():
                    if prop in g.properties:
                        seen[g.param(prop)] += values
        specs: dict[str, dict[str, Any]] = {}
        for g in self.groups:
            for prop in g.properties:
                name = g.param(prop)
                if prop == "width":
                    low, high = min(seen[name]), max(seen[name])
                    specs[name] = {"type": "int", "low": low, "high": high, "step": math.gcd(8, high - low) or 8}
                elif prop in ("depth", "expansion"):
                    low, high = min(seen[name]), max(seen[name])
                    integral = all(float(v).is_integer() for v in seen[name])
                    specs[name] = {"type": "int" if integral else "float", "low": _integral(low), "high": _integral(high)}
                elif prop == "kernel":
                    specs[name] = {"type": "int", "low": 3, "high": 5, "step": 2}
                elif prop == "se":
                    specs[name] = {"type": "choice", "values": [False, True], "ordered": True}
                else:
                    specs[name] = {"type": "choice", "values": list(GATES), "when": {g.param("se"): True}}
        return specs

    def check_domain(self, param: Param, prop: str) -> None:
        """Every value the parameter can take must give a buildable block (clear error now, not mid-search)."""
        if isinstance(param, Choice):
            candidates = list(param.values)
        elif isinstance(param, Int) and param.size <= 64:
            candidates = [param.low + i * param.step for i in range(param.size)]
        else:  # a float range or a long integer grid: its ends
            candidates = [param.low, param.high]  # type: ignore[attr-defined]
        rules = {
            "width": ("an integer >= 1", lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1),
            "depth": ("an integer >= 1", lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1),
            "kernel": ("an odd integer >= 1", lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1 and v % 2 == 1),
            "expansion": ("a number > 0", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0),
            "se": ("true or false", lambda v: isinstance(v, bool)),
            "se_gate": (f"one of {list(GATES)}", lambda v: v in GATES),
        }
        rule, ok = rules[prop]
        for value in candidates:
            if not ok(value):
                raise param.error(f"{value!r} is not a valid block {prop.replace('_', ' ')}: must be {rule}")
