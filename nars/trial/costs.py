"""The costs a search asks about points: feasibility under the constraints, free statistics for predictor
pretraining, cost objectives; callables over lists of points, backed by one cached `CostModel`."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from search_spaces.constraints import Constraint, parse_constraints
from search_spaces.point import Point

if TYPE_CHECKING:
    from search_spaces.fbnetv3.cost import CostModel
    from search_spaces.fbnetv3.space import FBNetV3Space

FEASIBLE_DRAWS = 2000
"""Draws a searcher makes for one feasible point before it calls the constraints unsatisfiable: a constraint that 1% of
the space meets fails by chance with probability 0.99**2000 = 2e-9 (at 100 draws, a space 2.5% feasible, like the
quickstart's, would fail one suggestion in 12)."""


def meets_constraints(feasible: Callable[[list[Point]], np.ndarray] | None, point: Point) -> bool:
    """One point through a batch predicate such as `Costs.feasibility` (None: there is no constraint)."""
    return feasible is None or bool(np.asarray(feasible([point]))[0])


@dataclass(frozen=True)
class CostSettings:
    """How one search measures costs, the same in the driver and in every trial: its constraints (parsed once),
    the cost cache file and the latency setting. Plain data: Ray pickles it to trials on any node."""

    constraints: tuple[Constraint, ...] = ()
    cache: str | None = None
    latency_threads: int = 1
    latency_backend: str = "torch"

    @classmethod
    def of(cls, constraints: Sequence[str | Constraint] = (), cache: str | os.PathLike[str] | None = None, latency_threads: int = 1,
           latency_backend: str = "torch") -> CostSettings:
        """From the experiment's values (constraints as written)."""
        return cls(tuple(parse_constraints(list(constraints))), None if cache is None else str(cache), latency_threads, latency_backend)

    def model(self, space: FBNetV3Space) -> CostModel:
        """The cached cost model of `space` under these settings."""
        from search_spaces.fbnetv3.cost import CostModel

        return CostModel(space, cache_path=self.cache, latency_threads=self.latency_threads, latency_backend=self.latency_backend)


class Costs:
    """Cost callables for the searcher and evolution, backed by one cached `CostModel`.

    Feasibility is `CostModel.meets`: the static constraints (FLOPs, params) first, latency only then.
    """

    free_stat_names = ("log FLOPs", "log params")

    def __init__(self, space: FBNetV3Space, settings: CostSettings = CostSettings()) -> None:
        self.space, self.settings = space, settings
        self.constraints = list(settings.constraints)
        self.model = settings.model(space)

    def __getstate__(self) -> tuple[Any, ...]:
        """Tune pickles the searcher with its callables; the cost model's caches are rebuilt (disk cache kept)."""
        return self.space, self.settings

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
