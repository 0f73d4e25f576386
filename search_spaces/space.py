"""`SearchSpace`: sampling, encoding, validation and variation of points over typed parameters.

A point is a plain dict `{name: value}` of the *searched* parameters that are active; pinned
parameters live in `space.fixed` and are added by `complete`. Every bulk operation (sampling,
encoding, decoding, validation) runs column by column on code arrays (see `params`), so 100,000
points take seconds. Conditions (`when`) must name earlier parameters; a condition on a pinned
parameter is settled once at construction (always true: dropped; never true: the parameter goes).
A parameter with a single value is pinned automatically. Pinned values are taken as they are: pinning
may leave the searched range (the objective or the detector config validates them).

Plain spaces (any objective, e.g. NAS-Bench-201) come from a mapping:

    parameters:
      Op0: {type: choice, values: [none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3]}
      lr: {type: float, low: 1.0e-4, high: 0.1, log: true}
      units: {type: int, low: 16, high: 512, step: 16}
      batch: {type: choice, values: [8, 16, 32, 64], ordered: true}   # one ordinal column, not one-hot
      gate: {type: choice, values: [sigmoid, hsigmoid], when: {se: true}}
    fixed: {units: 64}        # pinned: removed from the search, still passed to the objective by `complete`
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from operator import methodcaller
from typing import Any, Literal

import numpy as np
from scipy.stats import qmc

from core.errors import ConfigError
from search_spaces.param_specs import param_from_spec
from search_spaces.params import MISSING, Condition, Param
from search_spaces.point import Point


def _did_you_mean(name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def _holds(when: Condition, values: Mapping[str, Any]) -> bool:
    """Whether every (parent, allowed) pair holds in a dict of values (an absent parent is inactive)."""
    return all(parent in values and values[parent] in allowed for parent, allowed in when)


class SearchSpace:
    """Typed parameters plus pinned values; see the module docstring for the YAML form."""

    def __init__(self, params: Sequence[Param], fixed: Mapping[str, Any] | None = None) -> None:
        declared = {p.name: i for i, p in enumerate(params)}
        if len(declared) != len(params):
            duplicates = sorted({p.name for p in params if sum(q.name == p.name for q in params) > 1})
            raise ConfigError(f"parameters declared twice: {duplicates}")
        pins = dict(fixed or {})
        for name in pins:
            if name not in declared:
                raise ConfigError(f"fixed: unknown parameter '{name}'{_did_you_mean(name, list(declared))}")
        self.fixed: dict[str, Any] = {}
        self._fixed_when: dict[str, Condition] = {}
        searched: list[Param] = []
        for index, param in enumerate(params):
            when = self._resolve(param, index, declared, {p.name: p for p in searched}, params)
            if when is None:
                continue  # its condition can never hold: not part of the space
            param = replace(param, when=when) if when != param.when else param
            if param.name in pins:
                self.fixed[param.name] = pins[param.name]
                self._fixed_when[param.name] = when
            elif not when and param.size == 1:
                self.fixed[param.name] = param.value_of_unit(0.0)
                self._fixed_when[param.name] = ()
            else:
                searched.append(param)
        self.params: tuple[Param, ...] = tuple(searched)
        self.names: tuple[str, ...] = tuple(p.name for p in searched)
        self._by_name = {p.name: p for p in searched}
        self._position = {name: j for j, name in enumerate(self.names)}
        self._conditions = [
            [(self._position[parent], self._by_name[parent].codes_of(list(allowed))) for parent, allowed in p.when] for p in searched
        ]
        widths = [len(p.feature_names) for p in searched]
        starts = np.concatenate([[0], np.cumsum(widths)]).astype(int)
        self._slices = [slice(int(a), int(b)) for a, b in zip(starts[:-1], starts[1:])]
        self.feature_names: list[str] = [f for p in searched for f in p.feature_names]

    def _resolve(
        self, param: Param, index: int, declared: dict[str, int], searched: dict[str, Param], params: Sequence[Param]
    ) -> Condition | None:
        """`param.when` with pinned parents settled; None when it can never hold."""
        kept: list[tuple[str, tuple[Any, ...]]] = []
        for parent, allowed in param.when:
            if parent not in declared or parent == param.name:
                raise param.error(f"'when' refers to unknown parameter '{parent}'{_did_you_mean(parent, list(declared))}")
            if declared[parent] > index:
                raise param.error(f"'when' refers to '{parent}', which must be declared before '{param.name}'")
            bad = [v for v, c in zip(allowed, params[declared[parent]].codes_of(list(allowed))) if np.isnan(c)]
            if bad:
                raise param.error(f"'when': {bad[0]!r} is not a value of '{parent}' ({params[declared[parent]].describe()})")
            if parent in self.fixed:
                if self.fixed[parent] not in allowed:
                    return None
                kept.extend(self._fixed_when[parent])  # a pinned parent still needs its own condition
            elif parent in searched:
                kept.append((parent, allowed))
            else:
                return None  # the parent itself can never be active
        return tuple(dict.fromkeys(kept))

    # ------------------------------------------------------------------ basics

    def __len__(self) -> int:
        return len(self.params)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} parameters, {len(self.feature_names)} features, {len(self.fixed)} fixed)"

    def _activity(self, j: int, codes: np.ndarray, active: np.ndarray) -> np.ndarray:
        result = np.ones(codes.shape[0], dtype=bool)
        for parent, allowed in self._conditions[j]:
            result &= active[:, parent] & np.isin(codes[:, parent], allowed)
        return result

    def _points(self, codes: np.ndarray, active: np.ndarray) -> list[Point]:
        """Dicts of plain Python values from code arrays; inactive parameters are left out."""
        columns = []
        for j, param in enumerate(self.params):
            filled = np.where(active[:, j], codes[:, j], param.from_unit(np.zeros(1))[0])
            column = param.values_of(filled)
            if param.when:
                for i in np.flatnonzero(~active[:, j]).tolist():
                    column[i] = MISSING
            columns.append(column)
        if not any(p.when for p in self.params):
            return [dict(zip(self.names, row)) for row in zip(*columns)] if columns else [{} for _ in range(len(codes))]
        return [{k: v for k, v in zip(self.names, row) if v is not MISSING} for row in zip(*columns)]

    # ------------------------------------------------------------------ sampling

    def sample(self, n: int, seed: int = 0, method: Literal["sobol", "random"] = "sobol") -> list[Point]:
        """`n` points from a scrambled Sobol sequence (or i.i.d. uniform); same seed, same points.

        Sobol points are the first `n` of a 2^m sequence, so a larger `n` extends a smaller one.
        """
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        d = len(self.params)
        if d == 0:
            return [{} for _ in range(n)]
        if method == "sobol":
            unit = qmc.Sobol(d, scramble=True, rng=seed).random_base2(max(0, math.ceil(math.log2(max(n, 1)))))[:n]
        elif method == "random":
            unit = np.random.default_rng(seed).random((n, d))
        else:
            raise ValueError(f"method must be 'sobol' or 'random', got {method!r}")
        codes = np.full((n, d), np.nan)
        active = np.zeros((n, d), dtype=bool)
        for j, param in enumerate(self.params):
            active[:, j] = self._activity(j, codes, active)
            codes[:, j] = np.where(active[:, j], param.from_unit(unit[:, j]), np.nan)
        return self._points(codes, active)

    # ------------------------------------------------------------------ validation and encoding

    def _codes(self, points: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        """Code and activity arrays of points; ConfigError naming the first bad parameter."""
        n = len(points)

        def where(i: int) -> str:
            return f" (point {i})" if n > 1 else ""

        for i, point in enumerate(points):
            if not isinstance(point, Mapping):
                raise ConfigError(f"a point must be a mapping of parameter names to values, got {type(point).__name__}{where(i)}")
            if not point.keys() <= self._position.keys():
                self._check_extra_keys(point, where(i))
        codes = np.full((n, len(self.params)), np.nan)
        active = np.zeros((n, len(self.params)), dtype=bool)
        for j, param in enumerate(self.params):
            column = list(map(methodcaller("get", param.name, MISSING), points))
            active[:, j] = self._activity(j, codes, active)
            values = param.codes_of(column)
            bad = np.flatnonzero(active[:, j] & np.isnan(values))
            if bad.size:
                i = int(bad[0])
                if column[i] is MISSING:
                    raise ConfigError(f"parameter '{param.name}' is missing{where(i)}; it must be {param.describe()}")
                raise ConfigError(f"parameter '{param.name}': got {column[i]!r}{where(i)}; allowed: {param.describe()}")
            codes[:, j] = np.where(active[:, j], values, np.nan)
        return codes, active

    def _check_extra_keys(self, point: Mapping[str, Any], where: str) -> None:
        for key in point.keys() - self._position.keys():
            if key not in self.fixed:
                known = list(self.names) + list(self.fixed)
                raise ConfigError(f"unknown parameter '{key}'{where}{_did_you_mean(str(key), known)}")
            if point[key] != self.fixed[key]:
                raise ConfigError(f"parameter '{key}' is pinned to {self.fixed[key]!r} in this space, got {point[key]!r}{where}")

    def validate(self, point: Mapping[str, Any]) -> None:
        """Raise ConfigError naming the parameter and its allowed values if `point` is not in the space.

        Keys of inactive parameters are ignored; keys of pinned ones must equal the pinned value.
        """
        self._codes([point])

    def encode(self, points: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Features `[n, len(feature_names)]` in [0, 1]; inactive parameters get their neutral encoding."""
        codes, active = self._codes(points)
        features = np.empty((len(points), len(self.feature_names)))
        for j, (param, columns) in enumerate(zip(self.params, self._slices)):
            features[:, columns] = param.neutral
            rows = active[:, j]
            features[rows, columns] = param.encode(codes[rows, j])
        return features

    def decode(self, features: np.ndarray) -> list[Point]:
        """Points nearest to feature rows (inverse of `encode`; perturbed rows snap to valid values)."""
        features = np.asarray(features, dtype=float)
        if features.ndim != 2 or features.shape[1] != len(self.feature_names):
            raise ValueError(f"expected features of shape [n, {len(self.feature_names)}], got {list(features.shape)}")
        codes = np.full((features.shape[0], len(self.params)), np.nan)
        active = np.zeros(codes.shape, dtype=bool)
        for j, (param, columns) in enumerate(zip(self.params, self._slices)):
            active[:, j] = self._activity(j, codes, active)
            codes[:, j] = np.where(active[:, j], param.decode(features[:, columns]), np.nan)
        return self._points(codes, active)

    def writes(self, name: str) -> tuple[str, ...]:
        """The config fields parameter `name` sets: none in a space over the user's own objective."""
        return ()

    def shadowed_base(self) -> dict[str, list[str]]:
        """Base config fields that searched parameters replace: {field: [parameters]} (none here)."""
        return {}

    def saturated_values(self) -> dict[str, tuple[int, list[Any]]]:
        """Searched values that cannot differ in effect: {parameter: (limit, values at or above it)} (none here)."""
        return {}

    def complete(self, point: Mapping[str, Any]) -> Point:
        """The validated point with its pinned values added: what an objective or `to_config` receives."""
        self.validate(point)
        active = self._active_values(point)
        pinned = {k: v for k, v in self.fixed.items() if _holds(self._fixed_when[k], active)}
        return {**pinned, **active}

    def _active_values(self, values: Mapping[str, Any]) -> Point:
        out: Point = {}
        for param in self.params:
            if param.name in values and _holds(param.when, out):
                out[param.name] = values[param.name]
        return out

    # ------------------------------------------------------------------ variation (evolutionary search)

    def repair(self, values: Mapping[str, Any], rng: np.random.Generator) -> Point:
        """Drop parameters whose condition no longer holds; draw those that became active."""
        out: Point = {}
        for param in self.params:
            if not _holds(param.when, out):
                continue
            out[param.name] = values[param.name] if param.name in values else param.value_of_unit(rng.random())
        return out

    def mutate(self, point: Mapping[str, Any], rng: np.random.Generator | int | None = None, n_params: int = 1,
               *, validate: bool = True) -> Point:
        """Change exactly `n_params` distinct active parameters; newly activated ones are drawn at random.

        `validate=False` skips checking the parent, for callers whose points this space produced
        (the evolutionary search): the check costs more than the mutation itself.
        """
        rng = np.random.default_rng(rng)
        if validate:
            self.validate(point)
        child = self._active_values(point)
        original = set(child)
        mutable = [p for p in self.params if p.name in original and p.size != 1]
        if not 0 < n_params <= len(mutable):
            raise ValueError(f"n_params must be in 1..{len(mutable)} (the point's mutable active parameters), got {n_params}")
        changed: set[str] = set()
        for _ in range(n_params):
            candidates = [p for p in mutable if p.name in child and p.name not in changed]
            if not candidates:
                raise ValueError(f"only {len(changed)} parameters stay active after mutation; asked for {n_params}")
            param = candidates[rng.integers(len(candidates))]
            child[param.name] = param.mutate(child[param.name], rng)
            changed.add(param.name)
            child = self.repair(child, rng)
        return child

    def crossover(self, a: Mapping[str, Any], b: Mapping[str, Any], rng: np.random.Generator | int | None = None,
                  *, validate: bool = True) -> Point:
        """Uniform crossover: each active parameter from either parent (random if neither has it active)."""
        rng = np.random.default_rng(rng)
        if validate:
            self.validate(a)
            self.validate(b)
        parents = (self._active_values(a), self._active_values(b))
        child: Point = {}
        for param in self.params:
            if not _holds(param.when, child):
                continue
            first = int(rng.integers(2))
            donors = [p for p in (parents[first], parents[1 - first]) if param.name in p]
            child[param.name] = donors[0][param.name] if donors else param.value_of_unit(rng.random())
        return child


def plain_space(spec: Mapping[str, Any]) -> SearchSpace:
    """A space over any objective from `{parameters: {name: {type: ...}}, fixed: {...}}`."""
    unknown = sorted(set(spec) - {"kind", "parameters", "fixed"})
    if unknown:
        raise ConfigError(
            f"unknown space keys {unknown}; a plain space has 'parameters' and 'fixed' "
            "(template, base, exclude belong to the detector space: set kind: fbnetv3)"
        )
    parameters = spec.get("parameters")
    if not isinstance(parameters, Mapping) or not parameters:
        raise ConfigError("a plain space needs 'parameters', a non-empty mapping of name -> {type: ...}")
    fixed = spec.get("fixed") or {}
    if not isinstance(fixed, Mapping):
        raise ConfigError(f"'fixed' must map parameter names to values, got {fixed!r}")
    return SearchSpace([param_from_spec(str(name), p) for name, p in parameters.items()], fixed)
