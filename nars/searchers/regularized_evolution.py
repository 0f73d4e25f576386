"""Regularized (aging) evolution (Real et al. 2019), a baseline that needs no model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.atomic import atomic_write_text
from nars.searchers.base import MetricAwareSearcher
from search_spaces.point import Point

if TYPE_CHECKING:
    from nars.searchers.request import SearchRequest
    from search_spaces.protocol import Space


class RegularizedEvolution(MetricAwareSearcher):
    """Regularized (aging) evolution, Real et al. 2019: the first `population` points are random;
    then each suggestion mutates the best of `sample` random members, and the oldest member dies."""

    def __init__(self, space: Space, *, population: int = 20, sample: int = 5, seed: int = 0,
                 metric: str | None = None, mode: str | None = None) -> None:
        super().__init__(metric=metric, mode=mode)
        if not 1 <= sample <= population:
            raise ValueError(f"need 1 <= sample <= population, got sample={sample}, population={population}")
        self.space, self.population, self.sample, self.seed = space, population, sample, seed
        self.suggested = 0
        self.pending: dict[str, Point] = {}
        self.members: list[tuple[Point, float]] = []  # oldest first

    @classmethod
    def from_request(cls, request: SearchRequest) -> RegularizedEvolution:
        return cls(request.space, seed=request.seed, metric=request.metric, mode=request.mode, **request.options)

    def suggest(self, trial_id: str) -> Point | None:
        rng = np.random.default_rng([self.seed, self.suggested])
        if len(self.members) < self.population:
            point = self.space.sample(1, seed=int(rng.integers(2**31)), method="random")[0]
        else:
            contenders = [self.members[i] for i in rng.choice(len(self.members), size=self.sample, replace=False)]
            best = max(contenders, key=lambda m: m[1] if self.mode == "max" else -m[1])
            point = self.space.mutate(best[0], rng)
        self.suggested += 1
        self.pending[trial_id] = point
        return point

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False) -> None:
        point = self.pending.pop(trial_id, None)
        value = self.measured_value(result, error)
        if point is None or value is None:
            return
        self.members = (self.members + [(point, value)])[-self.population:]

    def save(self, checkpoint_path: str) -> None:
        atomic_write_text(checkpoint_path, json.dumps({"suggested": self.suggested, "pending": self.pending, "members": self.members}))

    def restore(self, checkpoint_path: str) -> None:
        state = json.loads(Path(checkpoint_path).read_text())
        self.suggested, self.pending = state["suggested"], state["pending"]
        self.members = [(point, value) for point, value in state["members"]]
