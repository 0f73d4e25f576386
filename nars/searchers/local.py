"""Local search with restarts: a model-free baseline that exploits neighbourhood structure, as NAS benchmarks show
it is hard to beat (White et al. 2021, "Local search is state of the art for NAS benchmarks").

Starts from the best of `initial` random points, evaluates untried one-parameter neighbours of the incumbent in random
order and moves to the first that improves on it; when every neighbour has been tried without improvement (a local
optimum) it restarts from a new random point. No point is proposed twice.
"""

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
from search_spaces.params import Choice, Float, Int, Param
from search_spaces.point import Point, point_key

if TYPE_CHECKING:
    from nars.searchers.request import SearchRequest
    from search_spaces.protocol import Space

FLOAT_STEP = 0.1
"""A float neighbour's distance from the incumbent, as a fraction of the parameter's encoded [0, 1] range."""


def value_neighbours(param: Param, value: Any) -> list[Any]:
    """The values one step from `value`: every other choice, the next grid value up and down, or a float step."""
    if isinstance(param, Choice):
        return [v for v in param.values if v != value]
    if isinstance(param, Int):
        return [v for v in (value - param.step, value + param.step) if param.low <= v <= param.high]
    if isinstance(param, Float):
        unit = float(param.encode(np.array([float(value)]))[0, 0])
        moved = [param.values_of(param.decode(np.array([[u]])))[0] for u in (unit - FLOAT_STEP, unit + FLOAT_STEP) if 0.0 <= u <= 1.0]
        return [v for v in moved if v != value]
    raise TypeError(f"no neighbours for parameter type {type(param).__name__}")


def neighbours(space: Space, point: Point, rng: np.random.Generator) -> list[Point]:
    """Every point that differs from `point` in one active parameter (parameters that this activates are drawn at random)."""
    out: dict[str, Point] = {}
    for param in space.params:
        if param.name in point and param.size != 1:
            for value in value_neighbours(param, point[param.name]):
                child = space.repair({**point, param.name: value}, rng)
                out.setdefault(point_key(child), child)
    return list(out.values())


class LocalSearch(MetricAwareSearcher):
    """First-improvement local search over one-parameter neighbourhoods, restarting at local optima.

    `feasible` (a batch predicate such as `Costs.feasibility`) filters random points and neighbours alike.
    JSON state, so that `Tuner.restore` resumes it.
    """

    def __init__(self, space: Space, *, initial: int = 10, feasible: Callable[[list[Point]], np.ndarray] | None = None,
                 seed: int = 0, metric: str | None = None, mode: str | None = None) -> None:
        super().__init__(metric=metric, mode=mode)
        if initial < 1:
            raise ValueError(f"need initial >= 1 random points, got {initial}")
        self.space, self.feasible, self.seed = space, feasible, seed
        self.suggested, self.restarts = 0, 0
        self.draws_left = initial  # random points still to propose before the current start picks its incumbent
        self.starts: list[tuple[Point, float]] = []  # the current start's evaluated random points
        self.incumbent: tuple[Point, float] | None = None
        self.queue: list[Point] = []  # the incumbent's neighbours not yet proposed, in random order
        self.tried: set[str] = set()
        self.pending: dict[str, Point] = {}

    @classmethod
    def from_request(cls, request: SearchRequest) -> LocalSearch:
        initial = {} if request.initial_points is None else {"initial": request.initial_points}
        return cls(request.space, feasible=request.feasible, seed=request.seed, metric=request.metric, mode=request.mode, **initial)

    def suggest(self, trial_id: str) -> Point | str | None:
        rng = np.random.default_rng([self.seed, self.suggested])
        point = self._next(rng)
        if point is None or point == Searcher.FINISHED:
            return point
        self.suggested += 1
        self.tried.add(point_key(point))
        self.pending[trial_id] = point
        return point

    def _next(self, rng: np.random.Generator) -> Point | str | None:
        """The next point, None to wait for running trials, or FINISHED when no untried random point can be found."""
        if self.incumbent is None and self.draws_left == 0 and not self.pending and self.starts:
            self._move(max(self.starts, key=lambda s: self._score(s[1])), rng)
            self.starts = []
        if self.draws_left > 0 or (self.incumbent is None and not self.pending):  # starting, or every start point failed
            self.draws_left = max(self.draws_left - 1, 0)
            return self._random_point(rng)
        if self.incumbent is None:
            return None  # the start's random points are still running
        while self.queue:
            point = self.queue.pop()
            if point_key(point) not in self.tried:
                return point
        if self.pending:
            return None  # a running neighbour may still improve on the incumbent
        self.incumbent, self.restarts = None, self.restarts + 1  # a local optimum: restart from a random point
        return self._random_point(rng)

    def _random_point(self, rng: np.random.Generator) -> Point | str:
        for _ in range(FEASIBLE_DRAWS):
            point = self.space.sample(1, seed=int(rng.integers(2**31)), method="random")[0]
            if point_key(point) not in self.tried and meets_constraints(self.feasible, point):
                return point
        return Searcher.FINISHED  # every draw was tried or infeasible: the feasible space is (nearly) exhausted

    def _feasible(self, points: list[Point]) -> np.ndarray:
        return np.ones(len(points), bool) if self.feasible is None or not points else np.asarray(self.feasible(points), bool)

    def _score(self, value: float) -> float:
        return value if self.mode == "max" else -value

    def _move(self, incumbent: tuple[Point, float], rng: np.random.Generator) -> None:
        """Make `incumbent` the point to improve on; queue its untried feasible neighbours in random order."""
        self.incumbent = incumbent
        candidates = [p for p in neighbours(self.space, incumbent[0], rng) if point_key(p) not in self.tried]
        self.queue = [p for p, ok in zip(candidates, self._feasible(candidates), strict=True) if ok]
        rng.shuffle(self.queue)  # type: ignore[arg-type]

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False) -> None:
        point = self.pending.pop(trial_id, None)
        value = self.measured_value(result, error)
        if point is None or value is None:
            return
        if self.incumbent is None:
            self.starts.append((point, float(value)))
        elif self._score(float(value)) > self._score(self.incumbent[1]):  # first improvement
            self._move((point, float(value)), np.random.default_rng([self.seed, self.suggested, 1]))

    def save(self, checkpoint_path: str) -> None:
        state = {k: getattr(self, k) for k in ("suggested", "restarts", "draws_left", "starts", "incumbent", "queue", "pending")}
        atomic_write_text(checkpoint_path, json.dumps({**state, "tried": sorted(self.tried)}))

    def restore(self, checkpoint_path: str) -> None:
        state = json.loads(Path(checkpoint_path).read_text())
        self.suggested, self.restarts, self.draws_left = state["suggested"], state["restarts"], state["draws_left"]
        self.starts = [(point, value) for point, value in state["starts"]]
        self.incumbent = None if state["incumbent"] is None else tuple(state["incumbent"])  # type: ignore[assignment]
        self.queue, self.pending, self.tried = state["queue"], state["pending"], set(state["tried"])
