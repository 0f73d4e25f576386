"""Random search: uniformly random feasible points, one seeded stream per suggestion so a resumed search draws the
same points."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from ray.tune.search import Searcher

from core.atomic import atomic_write_text
from nars.searchers.base import MetricAwareSearcher
from nars.trial.costs import FEASIBLE_DRAWS, meets_constraints
from search_spaces.point import Point

if TYPE_CHECKING:
    from nars.searchers.request import SearchRequest
    from search_spaces.protocol import Space


class RandomSearcher(MetricAwareSearcher):
    """Uniformly random feasible points of `space`; JSON state so that `Tuner.restore` resumes it."""

    def __init__(self, space: Space, *, max_trials: int | None = None, feasible: Callable[[list[Point]], np.ndarray] | None = None,
                 seed: int = 0, metric: str | None = None, mode: str | None = None) -> None:
        super().__init__(metric=metric, mode=mode)
        self.space, self.max_trials, self.feasible, self.seed = space, max_trials, feasible, seed
        self.suggested = 0

    @classmethod
    def from_request(cls, request: SearchRequest) -> RandomSearcher:
        return cls(request.space, max_trials=request.max_trials, feasible=request.feasible, seed=request.seed, metric=request.metric,
                   mode=request.mode)

    def suggest(self, trial_id: str) -> Point | str | None:
        if self.max_trials is not None and self.suggested >= self.max_trials:
            return Searcher.FINISHED
        draws = np.random.default_rng([self.seed, self.suggested])  # one stream per suggestion: resumes draw the same points
        for _ in range(FEASIBLE_DRAWS):
            point = self.space.sample(1, seed=int(draws.integers(2**63)), method="random")[0]
            if meets_constraints(self.feasible, point):
                self.suggested += 1
                return point
        raise RuntimeError(f"random search: {FEASIBLE_DRAWS} samples in a row broke the constraints; loosen them")

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False) -> None:
        pass

    def save(self, checkpoint_path: str) -> None:
        atomic_write_text(checkpoint_path, json.dumps({"suggested": self.suggested, "seed": self.seed}))

    def restore(self, checkpoint_path: str) -> None:
        state = json.loads(Path(checkpoint_path).read_text())
        self.suggested, self.seed = state["suggested"], state["seed"]
