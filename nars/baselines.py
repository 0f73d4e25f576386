"""Baseline searchers over the same spaces: uniform random sampling, regularized evolution and Optuna (TPE, QMC, GP).

Optuna runs through Ray's own `OptunaSearch` with a define-by-run function that asks Optuna for
exactly the space's active parameters (conditions respected), so trials are comparable with NARS.
"""

from __future__ import annotations

import base64
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from ray.tune.search import Searcher

from core.atomic import atomic_write_text
from nars.costs import FEASIBLE_DRAWS, meets_constraints
from nars.tune_searcher import MetricAwareSearcher
from search_spaces.params import Choice, Float, Int
from search_spaces.point import Point


class RandomSearcher(Searcher):
    """Uniformly random feasible points of `space`; JSON state so that `Tuner.restore` resumes it."""

    def __init__(self, space: Any, *, max_trials: int | None = None, feasible: Callable[[list[Point]], np.ndarray] | None = None,
                 seed: int = 0, metric: str | None = None, mode: str | None = None) -> None:
        super().__init__(metric=metric, mode=mode)
        self.space, self.max_trials, self.feasible, self.seed = space, max_trials, feasible, seed
        self.suggested = 0

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


class RegularizedEvolution(MetricAwareSearcher):
    """Regularized (aging) evolution, Real et al. 2019: the first `population` points are random;
    then each suggestion mutates the best of `sample` random members, and the oldest member dies."""

    def __init__(self, space: Any, *, population: int = 20, sample: int = 5, seed: int = 0,
                 metric: str | None = None, mode: str | None = None) -> None:
        super().__init__(metric=metric, mode=mode)
        if not 1 <= sample <= population:
            raise ValueError(f"need 1 <= sample <= population, got sample={sample}, population={population}")
        self.space, self.population, self.sample, self.seed = space, population, sample, seed
        self.suggested = 0
        self.pending: dict[str, Point] = {}
        self.members: list[tuple[Point, float]] = []  # oldest first

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
        value = None if error or not result else result.get(self.metric)
        if point is None or value is None or not np.isfinite(value):
            return
        self.members = (self.members + [(point, float(value))])[-self.population:]

    def save(self, checkpoint_path: str) -> None:
        atomic_write_text(checkpoint_path, json.dumps({"suggested": self.suggested, "pending": self.pending, "members": self.members}))

    def restore(self, checkpoint_path: str) -> None:
        state = json.loads(Path(checkpoint_path).read_text())
        self.suggested, self.pending = state["suggested"], state["pending"]
        self.members = [(point, value) for point, value in state["members"]]


class OptunaDefineByRun:
    """Define-by-run function asking an Optuna trial for every active parameter of `space`
    (a class, not a closure, so that Tune can pickle the searcher's state)."""

    def __init__(self, space: Any) -> None:
        self.space = space

    def __call__(self, trial: Any) -> None:
        values: dict[str, Any] = dict(self.space.fixed)
        for param in self.space.params:
            if not all(parent in values and values[parent] in allowed for parent, allowed in param.when):
                continue
            if isinstance(param, Choice):
                values[param.name] = trial.suggest_categorical(param.name, list(param.values))
            elif isinstance(param, Int):
                values[param.name] = trial.suggest_int(param.name, param.low, param.high, step=param.step)
            elif isinstance(param, Float):
                values[param.name] = trial.suggest_float(param.name, param.low, param.high, log=param.log)
            else:
                raise TypeError(f"no Optuna distribution for parameter type {type(param).__name__}")


def optuna_sampler(kind: str, seed: int, startup: int | None = None) -> Any:
    """The Optuna sampler `kind` names: TPE, scrambled QMC, or a Gaussian process (`GPSampler`, which needs torch).

    `startup`: TPE's and GP's random trials before their model is used (None: Optuna's default, 10).
    """
    import optuna

    start = {} if startup is None else {"n_startup_trials": startup}
    samplers = {
        "optuna-tpe": lambda: optuna.samplers.TPESampler(seed=seed, **start),
        "optuna-qmc": lambda: optuna.samplers.QMCSampler(seed=seed, scramble=True),
        "optuna-gp": lambda: optuna.samplers.GPSampler(seed=seed, **start),
    }
    if kind not in samplers:
        raise ValueError(f"unknown Optuna sampler {kind!r}; one of {sorted(samplers)}")
    return samplers[kind]()


def optuna_searcher(space: Any, kind: str, seed: int = 0, *, metric: str = "ap", mode: str = "max", startup: int | None = None) -> Searcher:
    """Ray's `OptunaSearch` with the sampler `kind` names over `space`.

    With a define-by-run space OptunaSearch takes metric and mode only here (not from TuneConfig).
    """
    from ray.tune.search.optuna import OptunaSearch

    return OptunaSearch(space=OptunaDefineByRun(space), sampler=optuna_sampler(kind, seed, startup), metric=metric, mode=mode)


class FeasibleOnly(Searcher):
    """Wraps a searcher that cannot take constraints (Optuna, SMAC3) so that it spends no trial on an infeasible point.

    Costs such as FLOPs are free to compute, so a proposal that breaks the constraints is told back to the wrapped
    searcher at once and it is asked again, up to `max_draws` times; only a feasible point becomes a Tune trial.
    It is told as the worst value measured so far (the "death penalty", the usual way to give constraints to a
    model that has none: TPE puts it among the bad trials, a GP or random forest learns the region is poor), or as a
    failure before any trial has finished. Without this, Optuna's TPE on the raccoon experiment (FLOPs <= 2e9)
    spent 2 of its first 4 trials on models it may not deploy, and after its start it kept proposing them.
    """

    def __init__(self, inner: Searcher, feasible: Callable[[list[Point]], np.ndarray], *, max_draws: int = FEASIBLE_DRAWS) -> None:
        super().__init__(metric=inner.metric, mode=inner.mode)
        self.inner, self.feasible, self.max_draws = inner, feasible, max_draws
        self.aliases: dict[str, str] = {}  # Tune's trial id -> the wrapped searcher's id of its feasible draw
        self.worst: float | None = None  # the worst finite value measured so far
        self.rejected = 0

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict[str, Any], **spec: Any) -> bool:
        return self.inner.set_search_properties(metric, mode, config, **spec)

    @property
    def metric(self) -> str | None:
        return self.inner.metric

    @property
    def mode(self) -> str | None:
        return self.inner.mode

    def suggest(self, trial_id: str) -> Point | str | None:
        for draw in range(self.max_draws):
            inner_id = f"{trial_id}~{draw}"
            point = self.inner.suggest(inner_id)
            if not isinstance(point, dict) or meets_constraints(self.feasible, point):
                if isinstance(point, dict):
                    self.aliases[trial_id] = inner_id
                return point
            self.rejected += 1
            penalty = None if self.worst is None else {self.metric: self.worst}
            self.inner.on_trial_complete(inner_id, penalty, error=penalty is None)
        raise RuntimeError(f"{type(self.inner).__name__}: {self.max_draws} proposals in a row broke the constraints; loosen them")

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        if trial_id in self.aliases:
            self.inner.on_trial_result(self.aliases[trial_id], result)

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False) -> None:
        value = None if error or not result else result.get(self.metric)
        if isinstance(value, (int, float)) and np.isfinite(value):
            worse = min if self.mode == "max" else max
            self.worst = float(value) if self.worst is None else worse(self.worst, float(value))
        if trial_id in self.aliases:
            self.inner.on_trial_complete(self.aliases.pop(trial_id), result, error)

    def save(self, checkpoint_path: str) -> None:
        """One file (Tune renames it after `save`): the wrapped searcher's own checkpoint, base64, beside this state."""
        with tempfile.TemporaryDirectory() as folder:
            self.inner.save(str(Path(folder) / "inner"))
            inner = base64.b64encode((Path(folder) / "inner").read_bytes()).decode()
        state = {"inner": inner, "aliases": self.aliases, "worst": self.worst, "rejected": self.rejected}
        atomic_write_text(checkpoint_path, json.dumps(state))

    def restore(self, checkpoint_path: str) -> None:
        state = json.loads(Path(checkpoint_path).read_text())
        with tempfile.TemporaryDirectory() as folder:
            (Path(folder) / "inner").write_bytes(base64.b64decode(state["inner"]))
            self.inner.restore(str(Path(folder) / "inner"))
        self.aliases, self.worst, self.rejected = state["aliases"], state["worst"], state["rejected"]
