"""The FBNetV3 joint space: architecture + training recipe + detector knobs, as one `DetectorConfig`.

A point sets some config fields; everything else comes from the `base` config. The YAML form is
the `space:` section of an experiment (`kind: fbnetv3`); `search_spaces/fbnetv3/default_space.yaml` is the
documented example. In short:

    kind: fbnetv3
    template: fbnetv3_a_dsmask      # layout the arch parameters fill in (default: base.model.arch)
    base: {model: {...}, input: {...}, train: {...}}   # merged over {model: {weights: null, freeze_at: 0}}
    max_size_ratio: 1.4286          # input.max_size = round(min_size * ratio); default base max/min (320/224)
    parameters:                     # change default ranges (partial mappings merge) or add parameters
      sgd_lr: {low: 0.01}
      momentum: {type: float, low: 0.8, high: 0.95, target: train.momentum}
    fixed: {optimizer: sgd}         # pinned values; `arch: <registered name>` pins the whole arch
    exclude: [detector, "trunk*_se"]   # groups arch/input/recipe/detector, names or globs

Parameters (see `search_spaces.fbnetv3.parameters.FIELD_PARAMETERS` and `search_spaces.fbnetv3.arch` for the arch ones):

* arch: `<group>_{width,depth,kernel,expansion,se,se_gate}` per group of the template.
* input: `min_size` (sets input.min_size and input.max_size = round(min_size * max_size_ratio)).
* recipe: `optimizer`; `sgd_lr`, `sgd_weight_decay` (active with sgd) and `adamw_lr`,
  `adamw_weight_decay` (active with adamw), both writing train.lr / train.weight_decay, since good
  values differ by orders of magnitude between the two; `warmup_fraction` and `ema_horizon` (shares
  of the schedule: train.warmup_fraction / train.ema_horizon, which replace warmup_iters / ema_decay),
  `epochs` (a search's trials train its proxy budget instead, so `nars` takes it out of the search),
  `batch_size`, `hflip_prob`, `color_jitter`, `scale_jitter` (input.min_size_train: sizes from
  min_size - jitter to min_size + jitter, about 16 px apart), `drop_path_rate`, `box_head_dropout`.
* detector: `pooler_resolution`, `rpn_iou_upper` + `rpn_iou_gap` and `roi_iou_upper` +
  `roi_iou_gap` (lower = max(0, upper - gap), so lower <= upper holds by construction),
  `rpn_{pre,post}_nms_topk_{train,test}`, `norm`, `freeze_at`.

Excluding a parameter pins it to the base config's value (it shows in `fixed`), except for arch
parameters: those (and the SE gate of an excluded SE) keep the template's per-block values.
`freeze_at` is excluded automatically while base.model.weights is null: frozen random layers
only cost accuracy. With base.model.weights set and the arch searched, every trial inherits what
its arch can take from the checkpoint (`model.weights_fit: inherit`, set here; `detector.weights.inherit`):
the checkpoint must hold the template's arch (`nars.trial.init.check_weights`).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from fnmatch import fnmatch
from typing import Any

import numpy as np

from core.errors import ConfigError
from core.nested import get_path, leaves, merge, set_path
from detector.config import DetectorConfig, config_to_dict, load_config
from detector.modeling.backbones.fbnet import parse_detection_arch
from search_spaces.fbnetv3.arch import ArchTemplate
from search_spaces.fbnetv3.parameters import (
    DERIVED_TARGETS,
    DERIVED_WRITES,
    FIELD_PARAMETERS,
    PROPOSAL_COUNTS,
    SUPERSEDES,
    read_derived,
    write_derived,
)
from search_spaces.param_specs import param_from_spec
from search_spaces.params import Param
from search_spaces.point import Point
from search_spaces.space import SearchSpace, _did_you_mean, _holds

DEFAULT_BASE: dict[str, Any] = {"model": {"weights": None, "freeze_at": 0}}
GROUPS = ("arch", "input", "recipe", "detector")
SETTINGS = ("kind", "template", "base", "max_size_ratio", "parameters", "fixed", "exclude")


def _all_values(param: Param) -> list[Any]:
    """Every value of a parameter on a finite grid (an int range or a choice)."""
    if param.size is None:
        return []
    return param.values_of(param.from_unit((np.arange(param.size) + 0.5) / param.size))


def most_anchors(config: DetectorConfig, phase: str) -> int:
    """Anchors of the largest image a `phase` ("train" or "test") feeds the RPN: the shorter side at most
    min_size (train: the largest jitter size), the longer at most max_size, one cell per stride of the C4 map."""
    sizes = config.input.train_sizes if phase == "train" else (config.input.min_size,)
    short, long = min(max(sizes), config.input.max_size), config.input.max_size
    stride = parse_detection_arch(config.model.arch).stage_strides[-1]
    return math.ceil(short / stride) * math.ceil(long / stride) * len(config.model.rpn.anchor_sizes) * len(config.model.rpn.aspect_ratios)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return bool(a == b)


# ---------------------------------------------------------------------- the space


class FBNetV3Space(SearchSpace):
    """Joint architecture-recipe-detector space whose points turn into `DetectorConfig`s."""

    def __init__(self, spec: Mapping[str, Any] | None = None) -> None:
        spec = dict(spec or {})
        for key in spec:
            if key not in SETTINGS:
                raise ConfigError(f"space: unknown key '{key}'{_did_you_mean(str(key), SETTINGS)}; allowed: {', '.join(SETTINGS)}")
        if spec.get("kind", "fbnetv3") != "fbnetv3":
            raise ConfigError(f"space: kind must be 'fbnetv3' here, got {spec['kind']!r}")
        overrides = self._mapping(spec, "parameters")
        pins = self._mapping(spec, "fixed")
        base = self._mapping(spec, "base")
        try:
            self.base: DetectorConfig = load_config(merge(DEFAULT_BASE, base))
        except ConfigError as exc:
            raise ConfigError(f"space.base: {exc}") from None
        self._base = config_to_dict(self.base)
        self._user_base = set(leaves(base))
        ratio = spec.get("max_size_ratio", self.base.input.max_size / self.base.input.min_size)
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or ratio < 1:
            raise ConfigError(f"space.max_size_ratio: must be a number >= 1 (max_size >= min_size), got {ratio!r}")
        self.max_size_ratio = float(ratio)

        arch_param = "arch" in pins or "arch" in overrides
        if arch_param and "template" in spec:
            raise ConfigError("space.template: has no effect when 'arch' is pinned or searched; remove one of them")
        self.template = None if arch_param else ArchTemplate(spec.get("template", self._base["model"]["arch"]))
        declared = self._declare(overrides, pins)
        self._targets = {name: s["target"] for name, s in declared.items() if s.get("target")}
        self._arch_props = {g.param(p): p for g in self.template.groups for p in g.properties} if self.template else {}
        self._reference = read_derived(self._base)

        excluded = self._excluded(spec.get("exclude") or [], declared, overrides, pins)
        dropped = {n for n in excluded if n in self._arch_props}
        for name, s in declared.items():  # dependents of dropped arch parameters go too
            if any(parent in dropped for parent in (s.get("when") or {})):
                dropped.add(name)
        reference = {**{n: get_path(self._base, t) for n, t in self._targets.items()}, **self._reference}
        pins.update({n: reference[n] for n in excluded - dropped})

        params = [self._param(name, s) for name, s in declared.items() if name not in dropped]
        super().__init__(params, pins)
        self._check_weights()
        try:
            self.to_config(self.sample(1)[0])
        except ConfigError as exc:
            raise ConfigError(f"space: a sampled point does not give a valid detector config: {exc}") from None

    @staticmethod
    def _mapping(spec: Mapping[str, Any], key: str) -> dict[str, Any]:
        value = spec.get(key) or {}
        if not isinstance(value, Mapping):
            raise ConfigError(f"space.{key}: must be a mapping, got {type(value).__name__}")
        return dict(value)

    def _declare(self, overrides: Mapping[str, Any], pins: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        """Default parameter specs with the YAML's changes applied, in search order."""
        declared: dict[str, dict[str, Any]] = {}
        if self.template is not None:
            declared.update({n: {**s, "group": "arch"} for n, s in self.template.default_specs().items()})
        else:  # a registered arch is pinned or searched
            declared["arch"] = {"target": "model.arch", "group": "arch"}
            if "arch" not in overrides:
                if not isinstance(pins["arch"], str):
                    raise ConfigError("space.fixed.arch: must be a registered arch name; put an inline arch in base.model.arch instead")
                declared["arch"].update(type="choice", values=[pins["arch"]])
        declared.update(copy.deepcopy(FIELD_PARAMETERS))
        targets = set(leaves(self._base))
        for name, override in overrides.items():
            declared[name] = self._apply_override(str(name), declared.get(name), override, list(declared), targets)
        return declared

    @staticmethod
    def _apply_override(
        name: str, default: dict[str, Any] | None, override: Any, known: list[str], targets: set[str]
    ) -> dict[str, Any]:
        if not isinstance(override, Mapping):
            raise ConfigError(f"parameter '{name}': expected a mapping (e.g. {{low: 1, high: 4}}), got {override!r}")
        if default is None:
            if "target" not in override:
                raise ConfigError(
                    f"unknown parameter '{name}'{_did_you_mean(name, known)}; a new parameter needs `target:`, "
                    "a config field such as train.momentum (for a space over your own objective, leave out kind: fbnetv3)"
                )
            target = str(override["target"])
            if target not in targets:
                raise ConfigError(f"parameter '{name}': unknown target '{target}'{_did_you_mean(target, sorted(targets))}")
            if target in DERIVED_TARGETS or target == "model.arch":
                raise ConfigError(f"parameter '{name}': target '{target}' is set by built-in parameters; change those instead")
            section = {"train": "recipe", "input": "input", "model": "detector"}[target.split(".")[0]]
            merged = {"group": section, **override}
        elif "target" in override and override["target"] != default.get("target"):
            raise ConfigError(f"parameter '{name}': the target of a built-in parameter cannot change")
        else:
            kept = {k: v for k, v in default.items() if k in ("target", "group", "when")}
            merged = {**kept, **override} if "type" in override else {**default, **override}
        if merged.get("group") not in GROUPS:
            raise ConfigError(f"parameter '{name}': group must be one of {', '.join(GROUPS)}, got {merged.get('group')!r}")
        return merged

    def _excluded(
        self, exclude: Any, declared: Mapping[str, Mapping[str, Any]], overrides: Mapping[str, Any], pins: Mapping[str, Any]
    ) -> set[str]:
        """Names removed from the search: groups, names or globs, plus freeze_at when training from scratch."""
        entries = [exclude] if isinstance(exclude, str) else exclude
        if not isinstance(entries, Sequence):
            raise ConfigError(f"space.exclude: must be a list of groups, names or globs, got {exclude!r}")
        excluded: set[str] = set()
        for entry in entries:
            matched = {n for n, s in declared.items() if s.get("group") == entry or fnmatch(n, str(entry))}
            if not matched:
                hint = _did_you_mean(str(entry), [*GROUPS, *declared])
                raise ConfigError(f"space.exclude: '{entry}' matches no parameter{hint} (groups: {', '.join(GROUPS)})")
            excluded |= matched
        if self.base.model.weights is None and "freeze_at" not in overrides and "freeze_at" not in pins:
            excluded.add("freeze_at")
        return excluded - set(pins)

    def _param(self, name: str, spec: Mapping[str, Any]) -> Param:
        param = param_from_spec(name, {k: v for k, v in spec.items() if k not in ("target", "group")})
        if name in self._arch_props:
            self.template.check_domain(param, self._arch_props[name])  # type: ignore[union-attr]
        if name == "arch":
            for value in getattr(param, "values", ()):
                try:
                    parse_detection_arch(value)
                except ValueError as exc:
                    raise param.error(str(exc)) from None
        return param

    def _check_weights(self) -> None:
        """Searched archs load the base weights by inheritance; an explicit `weights_fit: exact` cannot hold."""
        arch_changes = [n for n in (*self.names, *self.fixed) if n in self._arch_props] + [n for n in self.names if n == "arch"]
        if not arch_changes or self.base.model.weights is None:
            return
        if "model.weights_fit" in self._user_base and self.base.model.weights_fit == "exact":
            raise ConfigError(
                f"space.base.model.weights_fit: exact cannot load '{self.base.model.weights}' into searched architectures "
                f"(e.g. {arch_changes[0]}); set it to inherit, pin the arch (fixed: {{arch: <name>}}) or set base.model.weights: null"
            )
        self._base["model"]["weights_fit"] = "inherit"
        self.base = load_config(self._base)

    def writes(self, name: str) -> tuple[str, ...]:
        """The config fields parameter `name` sets (with the absolute twin a schedule-relative field replaces)."""
        if name in DERIVED_WRITES:
            return DERIVED_WRITES[name]
        target = self._targets.get(name)
        if target is None:
            return ("model.arch",) if name in self._arch_props or name == "arch" else ()
        return (target, SUPERSEDES[target]) if target in SUPERSEDES else (target,)

    def shadowed_base(self) -> dict[str, list[str]]:
        """Fields the experiment's `base` sets that searched parameters replace: {field: [parameters]}."""
        shadowed: dict[str, list[str]] = {}
        for name in self.names:
            for field in self.writes(name):
                if field in self._user_base and field != "model.arch":
                    shadowed.setdefault(field, []).append(name)
        return shadowed

    def saturated_values(self) -> dict[str, tuple[int, list[Any]]]:
        """Searched proposal counts with two or more values at or above the anchors of the largest input:
        {name: (anchors, those values)}. Each keeps every anchor, so they give one and the same detector and a
        search would train it twice (e.g. 500-1500 test proposals on a 96 x 128 input with 720 anchors)."""
        searched = [name for name in PROPOSAL_COUNTS if name in self.names]
        if not searched:
            return {}
        largest = dict(self.sample(1)[0])
        for name in ("min_size", "scale_jitter"):
            if name in self.names:
                largest[name] = max(_all_values(self._by_name[name]))
        config = self.to_config(largest)
        saturated = {}
        for name in searched:
            anchors = most_anchors(config, PROPOSAL_COUNTS[name])
            above = [v for v in _all_values(self._by_name[name]) if v >= anchors]
            if len(above) > 1:
                saturated[name] = (anchors, above)
        return saturated

    # ------------------------------------------------------------------ points <-> configs

    def to_config(self, point: Mapping[str, Any]) -> DetectorConfig:
        """The detector config of a point: base, plus the arch built from the template, plus every value."""
        return self._config_of(self.complete(point))

    def default_config(self) -> DetectorConfig:
        """The recipe a user trains without searching, to compare a winner with: the base config (the template's
        arch) with every `fixed:` value applied, each searched knob left at its base value. A pinned value whose
        condition names searched parameters applies when their base values meet it."""
        data = self._base
        base_values = {n: get_path(data, t) for n, t in self._targets.items()} | read_derived(data)
        if self.template is not None:
            base_values |= self.template.read(self.template.source)
        return self._config_of({k: v for k, v in self.fixed.items() if _holds(self._fixed_when[k], base_values)})

    def _config_of(self, values: Mapping[str, Any]) -> DetectorConfig:
        data = copy.deepcopy(self._base)
        if self.template is not None:
            arch_values = {k: v for k, v in values.items() if k in self._arch_props}
            data["model"]["arch"] = self.template.build(arch_values) if arch_values else self.template.source
        for name, value in values.items():
            if name in self._targets:
                set_path(data, self._targets[name], value)
        write_derived(data, {**self._reference, **values}, self.max_size_ratio)
        return load_config(data)

    def from_config(self, config: DetectorConfig | Mapping[str, Any] | str) -> Point:
        """The point whose `to_config` gives `config` (arch properties read from each group's last block).

        ConfigError when the config is outside the space: a value out of range, a pinned value that
        differs, or an arch without the template's layout.
        """
        data = config_to_dict(load_config(config))  # type: ignore[arg-type]
        values: dict[str, Any] = {}
        if self.template is not None and any(n in self._arch_props for n in (*self.names, *self.fixed)):
            values.update(self.template.read(data["model"]["arch"]))
        values.update({n: get_path(data, t) for n, t in self._targets.items()})
        values.update(read_derived(data))
        point = self._active_values({n: values[n] for n in self.names if n in values})
        for name, pinned in self.fixed.items():
            if name in values and _holds(self._fixed_when[name], point) and not _same(values[name], pinned):
                raise ConfigError(f"parameter '{name}' is pinned to {pinned!r} in this space, but the config has {values[name]!r}")
        self.validate(point)
        return point
