"""`NARSSearcher`: round-based predictor-guided search as a Ray Tune `Searcher`.

Round 0 trains a scrambled-Sobol pool of feasible points (under constraints, the most evenly spread of
many: `nars.searchers.spread`). Every later round refits the accuracy predictor on all finished trials (on a log
scale for a minimised positive metric: `nars.predictor.targets`) and suggests the best predicted untried candidates,
keeping an `exploration` share, counted over the whole search, for the most uncertain-but-promising ones (upper
confidence bound). With several objectives (accuracy plus costs such as FLOPs or latency) candidates are ranked by
their predicted Pareto front (NSGA-II non-dominated rank, ties by predicted accuracy).

The predictor learns only from trials of the whole proxy budget: a result with `budget` < 1 (a trial
stopped early) is kept in the history but is not a label, and an infeasible or failed trial has no value.
Measurements made under the same contract elsewhere (`--calibrate`) join through Ray's `add_evaluated_point`.

The searcher needs nothing but a space and callables, so the same code drives detector searches
and offline tabular benchmarks. Its state is plain JSON (`save`/`restore`), so `Tuner.restore`
continues a killed search without repeating finished trials.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from ray.tune.search import Searcher

from core.atomic import atomic_write_text
from nars.config.settings import RoundSettings
from nars.predictor import make_predictor
from nars.predictor.pretraining import FreeStatPretraining, PretrainDecision
from nars.predictor.targets import TargetTransform
from nars.searchers.base import MetricAwareSearcher
from nars.searchers.pareto import non_dominated_rank
from nars.searchers.spread import most_even_subset
from nars.trial.keys import BUDGET_KEY, PREDICTED_KEY, PREDICTED_STD_KEY, ROUND_KEY
from search_spaces.point import Point, point_key

if TYPE_CHECKING:
    from nars.searchers.request import SearchRequest
    from search_spaces.protocol import Space

log = logging.getLogger(__name__)

FULL_BUDGET = 1.0 - 1e-9  # epochs / proxy epochs of a trial that trained the whole budget (float division)
EVEN_START_POOL = 4  # a constrained Sobol round picks its points among at least this many times as many feasible ones


def exploration_picks(before: int, size: int, share: float) -> int:
    """Upper-confidence-bound picks of a predicted round of `size` after `before` predicted picks.

    The share holds over the whole search, each round taking what brings the running count to the nearest
    whole pick: rounds of 4 at 25% explore once each; rounds of 2 every other round (rounding each round
    alone gave round(0.5) = 0, i.e. never).
    """
    return math.floor((before + size) * share + 0.5) - math.floor(before * share + 0.5)


class NARSSearcher(MetricAwareSearcher):
    """Suggests points of `space`; learns from every finished trial's `metric`.

    Args:
        space: a `search_spaces.SearchSpace` (sample / encode / mutate / crossover).
        metric, mode: the accuracy metric reported by trials and its direction (None: taken from
            Tune's `TuneConfig(metric=..., mode=...)`, which Ray forwards only with a `param_space`).
        max_trials: stop suggesting after this many (None: until Ray's num_samples).
        settings: round sizes and predictor choice.
        feasible: points -> bool mask of the constraints (None: all feasible).
        free_stats: points -> [n, k] free statistics for predictor pretraining (None: no pretraining); a
            column is used in a round only if it ranks the trials measured so far (`nars.predictor.pretraining`).
        costs: points -> {name: values} for extra objectives to minimise (multi-objective search).
        seed: everything random derives from it, per round, so a restored search draws the same.
    """

    def __init__(
        self,
        space: Space,
        *,
        metric: str | None = None,
        mode: str | None = None,
        max_trials: int | None = None,
        settings: RoundSettings | None = None,
        feasible: Callable[[list[Point]], np.ndarray] | None = None,
        free_stats: Callable[[list[Point]], np.ndarray] | None = None,
        costs: Callable[[list[Point]], dict[str, np.ndarray]] | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(metric=metric, mode=mode)
        self.space = space
        self.max_trials = max_trials
        self.settings = settings or RoundSettings()
        self.feasible = feasible
        self.costs = costs
        self.seed = seed
        self.round = -1
        self.queue: list[Point] = []
        self.pending: dict[str, dict[str, Any]] = {}
        self.history: list[dict[str, Any]] = []
        self.prior: list[dict[str, Any]] = []
        self.tried: set[str] = set()
        self.predictor: Any = None
        self.round_predictions: list[dict[str, Any]] = []
        self.pretraining = None if free_stats is None else FreeStatPretraining.for_search(space, free_stats, self.settings.predictor, seed)
        self.pretrain_decision: PretrainDecision | None = None
        self.transform = TargetTransform(mode or "max")

    @classmethod
    def from_request(cls, request: SearchRequest) -> NARSSearcher:
        settings = request.settings or RoundSettings()
        if request.initial_points is not None:
            settings = settings.model_copy(update={"initial_points": request.initial_points})
        return cls(request.space, metric=request.metric, mode=request.mode, max_trials=request.max_trials, settings=settings,
                   feasible=request.feasible, free_stats=request.free_stats, costs=request.costs, seed=request.seed)

    # ------------------------------------------------------------------ Ray Tune interface

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        if self.metric is None or self.mode is None:
            raise ValueError(
                "NARSSearcher needs metric and mode: pass them to NARSSearcher (Ray forwards TuneConfig's "
                "metric/mode to a searcher only together with a param_space)"
            )
        if self.max_trials is not None and len(self.history) + len(self.pending) >= self.max_trials:
            return Searcher.FINISHED
        if not self.queue:
            if self.round >= 0 and self.pending:
                return None  # the round is still running; Ray asks again when a trial ends
            self._start_round()
            if not self.queue:
                log.warning("no untried feasible point left; the search ends early")
                return Searcher.FINISHED
        point = self.queue.pop(0)
        self.pending[trial_id] = {"point": point, "round": self.round}
        return {**point, ROUND_KEY: self.round, **self._prediction_of(point)}

    def _prediction_of(self, point: Point) -> dict[str, float]:
        """The predictor's guess for a point of this round, before training (kept in the trial config for analysis)."""
        latest = self.round_predictions[-1] if self.round_predictions else None
        if latest is None or latest["round"] != self.round or point not in latest["points"]:
            return {}
        i = latest["points"].index(point)
        return {PREDICTED_KEY: latest["predicted"][i], PREDICTED_STD_KEY: latest["std"][i]}

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False) -> None:
        entry = self.pending.pop(trial_id, None)
        if entry is None:
            return
        value = self.measured_value(result, error)
        # a trial stopped early (ASHA) reports the share of the proxy budget it trained: its value is kept, not learnt from
        budget = float(result.get(BUDGET_KEY, 1.0)) if result else 0.0
        self.history.append({"trial_id": trial_id, "point": entry["point"], "round": entry["round"], "value": value, "budget": budget})

    def labelled(self) -> list[dict[str, Any]]:
        """What the predictor learns from: given labels, then finished trials measured on the whole proxy budget."""
        return self.prior + [e for e in self.history if e["value"] is not None and e.get("budget", 1.0) >= FULL_BUDGET]

    def add_evaluated_point(self, parameters: Point, value: float, error: bool = False, pruned: bool = False,
                            intermediate_values: list[float] | None = None) -> None:
        """A measurement made outside this search under the same trial contract (Ray's hook for points evaluated
        elsewhere; here `--calibrate`'s candidates at the chosen budget): learnt from, unless it failed or was
        pruned, and never suggested again; not counted as a trial."""
        self.tried.add(point_key(parameters))
        if not (error or pruned):
            self.prior.append({"trial_id": None, "point": parameters, "round": -1, "value": float(value), "budget": 1.0})

    def save(self, checkpoint_path: str) -> None:
        state = {
            "round": self.round,
            "queue": self.queue,
            "pending": self.pending,
            "history": self.history,
            "prior": self.prior,
            "round_predictions": self.round_predictions,
            "seed": self.seed,
            "metric": self.metric,
            "mode": self.mode,
        }
        atomic_write_text(checkpoint_path, json.dumps(state, default=str))

    def restore(self, checkpoint_path: str) -> None:
        state = json.loads(Path(checkpoint_path).read_text())
        self.round = state["round"]
        self.queue = state["queue"]
        # trials that were running when the search died are re-run by Tune under the same ids
        self.pending = state["pending"]
        self.history = state["history"]
        self.prior = state.get("prior", [])
        self.round_predictions = state.get("round_predictions", [])
        self.seed = state.get("seed", self.seed)
        self.tried = {point_key(e["point"]) for e in self.history + self.prior} | {point_key(e["point"]) for e in self.pending.values()}
        self.tried |= {point_key(p) for p in self.queue}

    # ------------------------------------------------------------------ rounds

    def _rng(self, purpose: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.round, purpose])

    def _feasible(self, points: list[Point]) -> list[Point]:
        if not points or self.feasible is None:
            return points
        mask = np.asarray(self.feasible(points), dtype=bool)
        return [p for p, ok in zip(points, mask) if ok]

    def _untried(self, points: list[Point]) -> list[Point]:
        fresh, keys = [], set()
        for point in points:
            key = point_key(point)
            if key not in self.tried and key not in keys:
                keys.add(key)
                fresh.append(point)
        return fresh

    def _start_round(self) -> None:
        self.round += 1
        labelled = self.labelled()
        if self.round == 0 or len(labelled) < 2:
            batch = self._sobol_batch(self.settings.initial_points if self.round == 0 else self.settings.round_size)
        else:
            batch = self._predicted_batch(labelled)
        self.tried |= {point_key(p) for p in batch}
        self.queue = batch

    def _sobol_batch(self, size: int) -> list[Point]:
        """Feasible, untried points of a scrambled Sobol sequence (seeded per round).

        Without rejections, its first `size` untried points (a Sobol prefix is spread evenly over every
        parameter). Where constraints reject points, the feasible rest is a random subset, so the batch is
        the most evenly spread `size` (`most_even_subset`) of at least `EVEN_START_POOL` x `size` feasible ones.
        """
        pool: list[Point] = []
        rejected = False
        for attempt in range(8):
            draw = self.space.sample(max(2 * size, 16) * (attempt + 1), seed=self.seed * 1000 + self.round * 10 + attempt)
            feasible = self._feasible(draw)
            rejected |= len(feasible) < len(draw)
            pool = self._untried(pool + feasible)
            if len(pool) >= (EVEN_START_POOL * size if rejected else size):
                break
        if not rejected or len(pool) <= size:
            return pool[:size]
        return [pool[i] for i in most_even_subset(self.space.encode(pool), size)]

    def _fit_predictor(self, labelled: list[dict[str, Any]]) -> None:
        """Fit the predictor on the labels' targets (`TargetTransform`: -log of a minimised positive metric)."""
        options = dict(self.settings.predictor.options)
        if self.settings.predictor.kind == "mlp":
            options.setdefault("seed", self.seed + self.round)
        predictor = make_predictor(self.settings.predictor.kind, **options)
        points = [e["point"] for e in labelled]
        y = np.array([e["value"] for e in labelled], dtype=np.float64)
        self.transform = TargetTransform.for_metric(self.mode or "max", y)
        targets = self.transform.to_target(y)
        if self.pretraining is not None:
            self.pretrain_decision = self.pretraining.apply(predictor, points, y)
        predictor.fit(self.space.encode(points), targets)
        self.predictor = predictor

    def _candidates(self, labelled: list[dict[str, Any]]) -> list[Point]:
        """Fresh random points plus mutations / crossovers of the best measured ones."""
        rng = self._rng(1)
        pool = self.settings.candidate_pool
        n_local = int(pool * self.settings.mutation_share)
        order = sorted(labelled, key=lambda e: e["value"], reverse=self.mode != "min")
        parents = [e["point"] for e in order[: max(2, len(order) // 4)]]
        local = []
        for _ in range(n_local):
            if len(parents) > 1 and rng.random() < 0.3:
                a, b = rng.choice(len(parents), size=2, replace=False)
                child = self.space.crossover(parents[a], parents[b], rng)
            else:
                child = parents[rng.integers(len(parents))]
            local.append(self.space.mutate(child, rng, n_params=int(rng.integers(1, 3))))
        fresh = self.space.sample(pool - n_local, seed=int(rng.integers(2**31)), method="random")
        return self._untried(local + fresh)

    def _predicted_batch(self, labelled: list[dict[str, Any]]) -> list[Point]:
        """Best predicted feasible candidates, plus an exploration share by upper confidence bound.

        Feasibility (which may cost a model build per point) is checked lazily, best first.
        """
        self._fit_predictor(labelled)
        candidates = self._candidates(labelled)
        if not candidates:
            return []
        mean, std = self.predictor.predict(self.space.encode(candidates), return_std=True)
        size = min(self.settings.round_size, len(candidates))
        n_explore = exploration_picks(sum(len(r["points"]) for r in self.round_predictions), size, self.settings.exploration)
        exploited = self._take_feasible(candidates, self._exploit_order(candidates, mean), size - n_explore, [])
        chosen = self._take_feasible(candidates, np.argsort(-(mean + 2.0 * std)), size, exploited)
        predicted, predicted_std = self.transform.to_metric(mean[chosen], std[chosen])  # the metric's units, for the tables
        self.round_predictions.append(
            {"round": self.round, "points": [candidates[i] for i in chosen], "predicted": predicted.tolist(),
             "std": predicted_std.tolist(), "target": self.transform.name, "explored": len(chosen) - len(exploited),
             "trained_on": len(labelled),
             **(self.pretrain_decision.as_dict() if self.pretrain_decision else {})}
        )
        return [candidates[i] for i in chosen]

    def _take_feasible(self, candidates: list[Point], order: np.ndarray, size: int, chosen: list[int], chunk: int = 32) -> list[int]:
        """Extend `chosen` with feasible candidates in `order` until it holds `size` indices."""
        chosen = list(chosen)
        queue = [int(i) for i in order if int(i) not in chosen]
        while len(chosen) < size and queue:
            block, queue = queue[:chunk], queue[chunk:]
            mask = np.ones(len(block), dtype=bool) if self.feasible is None else np.asarray(self.feasible([candidates[i] for i in block]), dtype=bool)
            chosen.extend(i for i, ok in zip(block, mask) if ok)
        return chosen[:size]

    def _exploit_order(self, candidates: list[Point], predicted: np.ndarray, shortlist: int = 128) -> np.ndarray:
        """Indices best first: by predicted accuracy or, with costs, by predicted Pareto rank.

        Costs are computed for a shortlist only (the most accurate and a random share), since a
        detector's FLOPs need a model build per architecture.
        """
        by_accuracy = np.argsort(-predicted)
        if self.costs is None:
            return by_accuracy
        rng = self._rng(2)
        rest = by_accuracy[shortlist:]
        picked = np.concatenate([by_accuracy[:shortlist], rng.permutation(rest)[:shortlist]]).astype(int)
        cost_values = self.costs([candidates[i] for i in picked])
        objectives = np.column_stack([predicted[picked], *[np.asarray(v, dtype=np.float64) for v in cost_values.values()]])
        rank = non_dominated_rank(objectives, [True] + [False] * len(cost_values))
        return picked[np.lexsort((-predicted[picked], rank))]
