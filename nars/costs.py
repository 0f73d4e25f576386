"""The costs a search asks about points: feasibility under the constraints, free statistics for predictor
pretraining, cost objectives; callables over lists of points, backed by one cached `CostModel`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from search_spaces.point import Point

FEASIBLE_DRAWS = 2000
"""Draws a searcher makes for one feasible point before it calls the constraints unsatisfiable. At 100 draws, random
search on the quickstart experiment (2.5% of its space meets `flops <= 3e8`) failed one suggestion in 12 by bad luck
(0.975**100 = 8%); at 2000, a constraint that 1% of the space meets fails by chance with probability 2e-9."""


def meets_constraints(feasible: Callable[[list[Point]], np.ndarray] | None, point: Point) -> bool:
    """One point through a batch predicate such as `Costs.feasibility` (None: there is no constraint)."""
    return feasible is None or bool(np.asarray(feasible([point]))[0])


class Costs:
    """Cost callables for the searcher and evolution, backed by one cached `CostModel`.

    Feasibility is `CostModel.meets`: the static constraints (FLOPs, params) first, latency only then.
    """

    free_stat_names = ("log FLOPs", "log params")

    def __init__(self, space: Any, constraints: list[str], cache_path: Path | None, latency_threads: int, latency_backend: str) -> None:
        from search_spaces import CostModel, parse_constraints

        self._args = (space, list(constraints), cache_path, latency_threads, latency_backend)
        self.constraints = parse_constraints(constraints)
        self.model = CostModel(space, cache_path=cache_path, latency_threads=latency_threads, latency_backend=latency_backend)

    def __getstate__(self) -> tuple[Any, ...]:
        """Tune pickles the searcher with its callables; the cost model's caches are rebuilt (disk cache kept)."""
        return self._args

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self.__init__(*state)  # type: ignore[misc]

    def feasible(self, points: list[Point]) -> np.ndarray:
        return np.array([self.model.meets(point, self.constraints)[0] for point in points], dtype=bool)

    @property
    def feasibility(self) -> Callable[[list[Point]], np.ndarray] | None:
        """`feasible`, or None when there is no constraint (every point is feasible: nothing to measure)."""
        return self.feasible if self.constraints else None

    def free_stats(self, points: list[Point]) -> np.ndarray:
        """log FLOPs and log params: free statistics for predictor pretraining."""
        costs = [self.model.measure(p) for p in points]
        return np.log(np.array([[c.flops, c.params] for c in costs], dtype=np.float64))

    def objectives(self, names: list[str]) -> Callable[[list[Point]], dict[str, np.ndarray]] | None:
        """points -> {name: values} of the cost objectives `names` (None when there are none)."""
        if not names:
            return None

        def values(points: list[Point]) -> dict[str, np.ndarray]:
            costs = [self.model.measure(p, latency="latency_ms" in names) for p in points]
            return {n: np.array([float(getattr(c, n)) for c in costs]) for n in names}

        return values
