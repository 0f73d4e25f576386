"""Baseline searchers over the same spaces: uniform random sampling and Optuna (TPE, QMC).

Optuna runs through Ray's own `OptunaSearch` with a define-by-run function that asks Optuna for
exactly the space's active parameters (conditions respected), so trials are comparable with NARS.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from ray.tune.search import Searcher

from detector.atomic import atomic_write_text
from search_spaces.params import Choice, Float, Int

Point = dict[str, Any]


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
        for attempt in range(100):
            point = self.space.sample(1, seed=self.seed * 1_000_003 + self.suggested * 101 + attempt, method="random")[0]
            if self.feasible is None or bool(np.asarray(self.feasible([point]))[0]):
                self.suggested += 1
                return point
        raise RuntimeError("random search: 100 samples in a row broke the constraints; loosen them")

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False) -> None:
        pass

    def save(self, checkpoint_path: str) -> None:
        atomic_write_text(checkpoint_path, json.dumps({"suggested": self.suggested, "seed": self.seed}))

    def restore(self, checkpoint_path: str) -> None:
        state = json.loads(Path(checkpoint_path).read_text())
        self.suggested, self.seed = state["suggested"], state["seed"]


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


def optuna_searcher(space: Any, kind: str, seed: int = 0, *, metric: str = "ap", mode: str = "max") -> Searcher:
    """Ray's `OptunaSearch` with a TPE or scrambled-QMC sampler over `space`.

    With a define-by-run space OptunaSearch takes metric and mode only here (not from TuneConfig).
    """
    import optuna
    from ray.tune.search.optuna import OptunaSearch

    sampler = optuna.samplers.TPESampler(seed=seed) if kind == "optuna-tpe" else optuna.samplers.QMCSampler(seed=seed, scramble=True)
    return OptunaSearch(space=OptunaDefineByRun(space), sampler=sampler, metric=metric, mode=mode)
