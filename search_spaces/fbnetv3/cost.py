"""Cost of FBNetV3 points (FLOPs, parameters, CPU latency), cached, and rejection sampling under constraints.

FLOPs are counted by `torch.utils.flop_counter.FlopCounterMode` (2 x MACs of convs and linears,
the counting rule of `../shared/reference`) on the built model, at the point's test resolution:
the trunk and RPN head on a `[1, 3, min_size, max_size]` image (the largest a test image gets)
and the box head and predictors on `rpn.post_nms_topk_test` RoIs. Both are summed over the
model's parts, each counted once and memoized (`detector.modeling.flops`), so that a mutated
architecture costs about a millisecond. Parameters are all model weights,
counted with nothing frozen (freezing turns BN weights into buffers but keeps the network).
Latency is that of what is deployed, by `latency_backend` (`detector.deploy.latency`): the median wall
time of `latency_runs` runs on one random image of that size, with the interquartile range as its spread. A point within noise of a latency bound
is measured again with three times the runs before it is judged (`CostModel.meets`).

Results are cached by the point's `CostSpec` (the cost-relevant config fields), latency also by
CPU model, threads and backend: in an LRU in memory and, optionally, in a JSON file written
atomically (merged with what other processes wrote). Constraints: `search_spaces.constraints`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from core.atomic import atomic_write_text
from core.errors import ConfigError
from core.machine import cpu_model
from detector.config import DetectorConfig
from detector.deploy.latency import LATENCY_BACKENDS, Latency, time_latency
from detector.modeling.flops import PartCosts
from search_spaces.constraints import Constraint, Cost, parse_constraints
from search_spaces.fbnetv3.cost_spec import CostSpec
from search_spaces.fbnetv3.space import FBNetV3Space
from search_spaces.point import Point

log = logging.getLogger(__name__)

COCO_CLASSES = 80
"""Class count when neither the caller nor the base config gives one (the reference figures use COCO)."""


class CostModel:
    """Measures and caches the cost of points of an `FBNetV3Space` (or of any `DetectorConfig`)."""

    def __init__(
        self,
        space: FBNetV3Space | None = None,
        *,
        num_classes: int | None = None,
        cache_path: str | os.PathLike[str] | None = None,
        memory_size: int = 4096,
        latency_runs: int = 20,
        latency_warmup: int = 3,
        latency_threads: int = 1,
        latency_backend: str = "torch",
    ) -> None:
        if latency_backend not in LATENCY_BACKENDS:
            raise ConfigError(f"latency backend must be one of {', '.join(LATENCY_BACKENDS)}, got {latency_backend!r}")
        self.space = space
        base_classes = space.base.model.num_classes if space is not None else None
        self.num_classes = num_classes or base_classes or COCO_CLASSES
        self.cache_path = Path(cache_path) if cache_path is not None else None
        self.latency_runs, self.latency_warmup, self.latency_threads = latency_runs, latency_warmup, latency_threads
        self.latency_backend = latency_backend
        self.latency_setting = f"{cpu_model()} | {latency_threads} threads | {latency_backend}"
        """Latency cache key beside the spec: a figure from another machine or setting is never reused."""
        self._disk: dict[str, dict[str, Any]] = self._read_disk()
        self._parts = PartCosts()
        self._static = functools.lru_cache(maxsize=memory_size)(self._measure_static)
        self._latency = functools.lru_cache(maxsize=memory_size)(self._measure_latency)
        self.measurements = 0
        """Models actually measured (neither cache had them)."""

    # ------------------------------------------------------------------ keys and caches

    def key(self, config: DetectorConfig) -> str:
        """The cache key of a config: its `CostSpec` (a registered arch name and its inline dict agree)."""
        return CostSpec.of(config, self.num_classes).key

    @staticmethod
    def _digest(key: str) -> str:
        return hashlib.sha1(key.encode()).hexdigest()

    def _read_disk(self) -> dict[str, dict[str, Any]]:
        if self.cache_path is None or not self.cache_path.is_file():
            return {}
        try:
            data = json.loads(self.cache_path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            log.warning("ignoring unreadable cost cache %s: %s", self.cache_path, exc)
            return {}
        return data if isinstance(data, dict) else {}

    def _store(self, key: str, updates: Mapping[str, Any]) -> None:
        digest = self._digest(key)
        entry = self._disk.setdefault(digest, {})
        for name, value in updates.items():
            entry[name] = {**entry.get(name, {}), **value} if isinstance(value, dict) else value
        if self.cache_path is not None:
            merged = self._read_disk()  # keep what other processes added meanwhile
            for digest_, entry_ in self._disk.items():
                merged[digest_] = {**merged.get(digest_, {}), **entry_}
            self._disk = merged
            atomic_write_text(self.cache_path, json.dumps(merged, sort_keys=True))

    # ------------------------------------------------------------------ measuring

    def _measure_static(self, key: str) -> tuple[int, int]:
        cached = self._disk.get(self._digest(key), {})
        if "flops" in cached and "params" in cached:
            return int(cached["flops"]), int(cached["params"])
        flops, params = self._parts.detector(CostSpec(key).config())
        self.measurements += 1
        self._store(key, {"flops": flops, "params": params})
        return flops, params

    def _measure_latency(self, key: str, runs: int | None = None) -> Latency:
        """Cached latency, or `runs` (default `latency_runs`) timed runs; an explicit `runs` always measures."""
        cached = self._disk.get(self._digest(key), {}).get("latency_ms", {}).get(self.latency_setting)
        if runs is None and isinstance(cached, dict):
            return Latency(cached["median"], cached["spread"], cached["runs"])
        runs = runs or self.latency_runs
        latency = time_latency(CostSpec(key).config(), self.latency_backend, self.latency_threads, runs, self.latency_warmup)
        self.measurements += 1
        self._store(key, {"latency_ms": {self.latency_setting: {"median": latency.median_ms, "spread": latency.spread_ms, "runs": runs}}})
        return latency

    def _config(self, point_or_config: Mapping[str, Any] | DetectorConfig) -> DetectorConfig:
        if isinstance(point_or_config, DetectorConfig):
            return point_or_config
        if self.space is None:
            raise ValueError("this CostModel has no space: pass a DetectorConfig, or build it with CostModel(space)")
        return self.space.to_config(point_or_config)

    def measure(self, point_or_config: Mapping[str, Any] | DetectorConfig, *, latency: bool = False) -> Cost:
        """Cost of a point of `space` (or of a config); latency only when asked (it runs the model)."""
        key = self.key(self._config(point_or_config))
        flops, params = self._static(key)
        if not latency:
            return Cost(flops, params)
        timed = self._latency(key)
        return Cost(flops, params, timed.median_ms, timed.spread_ms)

    def meets(self, point_or_config: Mapping[str, Any] | DetectorConfig, constraints: Sequence[Constraint]) -> tuple[bool, Cost]:
        """Whether the point meets every constraint, and its cost: FLOPs/params first (cheap), then latency.

        A latency within noise of its bound (two spreads, at least 2 % of the bound) is measured again with
        three times the runs, and that figure decides (and replaces the cached one).
        """
        key = self.key(self._config(point_or_config))
        cost = Cost(*self._static(key))
        if not all(c.holds(getattr(cost, c.metric)) for c in constraints if c.metric != "latency_ms"):
            return False, cost
        timed = [c for c in constraints if c.metric == "latency_ms"]
        if not timed:
            return True, cost
        latency = self._latency(key)
        near = any(abs(latency.median_ms - c.bound) <= max(2 * latency.spread_ms, 0.02 * c.bound) for c in timed)
        if near and latency.runs < 3 * self.latency_runs:  # once refined, the refined figure stands
            latency = self._measure_latency(key, runs=3 * self.latency_runs)
            self._latency.cache_clear()  # the memo must not keep the noisier figure
        cost = Cost(cost.flops, cost.params, latency.median_ms, latency.spread_ms)
        return all(c.holds(latency.median_ms) for c in timed), cost


# ---------------------------------------------------------------------- rejection sampling


@dataclass(frozen=True)
class FeasibleSample:
    """Accepted points with their costs; `tried` candidates were measured to find them."""

    points: list[Point]
    costs: list[Cost]
    tried: int

    @property
    def acceptance_rate(self) -> float:
        return len(self.points) / self.tried if self.tried else 0.0


def _infeasible_message(n: int, accepted: int, tried: int, constraints: list[Constraint], seen: dict[Constraint, list[float]]) -> str:
    """Name the constraints no sample met (with the best value seen) or, if each alone is met, the joint shortfall."""
    problems = []
    for c in constraints:
        values = seen[c]
        if values and not any(c.holds(v) for v in values):
            best, word = (min(values), "smallest") if c.upper else (max(values), "largest")
            problems.append(f"{c} unreachable: {word} {c.metric} among {len(values)} samples is {best:.3g}")
    if problems:
        return "; ".join(problems)
    return (
        f"only {accepted} of {tried} samples satisfy {' and '.join(map(str, constraints))} "
        f"(acceptance {accepted / max(tried, 1):.1%}); need {n}: raise max_tries or loosen the constraints"
    )


def sample_feasible(
    space: FBNetV3Space,
    n: int,
    seed: int = 0,
    constraints: str | Constraint | Sequence[str | Constraint] = (),
    *,
    cost_model: CostModel | None = None,
    max_tries: int | None = None,
    method: Literal["sobol", "random"] = "sobol",
) -> FeasibleSample:
    """The first `n` points of `space.sample(max_tries, seed)` that meet every constraint.

    Latency is measured only for points that already meet the FLOPs/params constraints. Raises
    ConfigError naming the failing constraint when fewer than `n` of `max_tries` (default
    max(200, 20 n)) candidates pass.
    """
    parsed = parse_constraints(constraints)
    cost_model = cost_model or CostModel(space)
    max_tries = max_tries or max(200, 20 * n)
    if max_tries < n:
        raise ValueError(f"max_tries ({max_tries}) must be >= n ({n})")
    seen: dict[Constraint, list[float]] = {c: [] for c in parsed}
    points: list[Point] = []
    costs: list[Cost] = []
    tried = 0
    for point in space.sample(max_tries, seed, method):
        if len(points) == n:
            break
        tried += 1
        ok, cost = cost_model.meets(point, parsed)
        for c in parsed:
            value = getattr(cost, c.metric)
            if value is not None:  # latency is measured only once FLOPs and params pass
                seen[c].append(value)
        if ok:
            points.append(point)
            costs.append(cost)
    if len(points) < n:
        raise ConfigError(_infeasible_message(n, len(points), tried, parsed, seen))
    result = FeasibleSample(points, costs, tried)
    log.info("sample_feasible: accepted %d of %d candidates (%.1f%%)", n, tried, 100 * result.acceptance_rate)
    return result
