"""`ScreenedProposals`: a trial only for a new, feasible point, for searchers that know neither the constraints nor
what the search already measured (Optuna, SMAC3)."""

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
from nars.trial.costs import FEASIBLE_DRAWS, meets_constraints
from nars.trial.keys import measured_value
from search_spaces.point import Point, point_key

REPEAT_DRAWS = 100
"""Re-proposals answered in a row before a repeat is let through as a trial: a searcher that insists on one point
(a TPE that has converged) gets it, as it would without this wrapper, instead of stalling the search."""


class ScreenedProposals(Searcher):
    """Wraps a searcher (Optuna, SMAC3) so that it spends trials only on feasible points it has not measured yet.

    Every proposal is screened before it becomes a Tune trial, and the wrapped searcher is asked again, whatever it
    was told, so it keeps learning from every proposal:
    - one that breaks the constraints (costs such as FLOPs are free to compute) is told the worst value measured so
      far (the "death penalty", the usual way to give constraints to a model that has none: TPE puts it among the bad
      trials, a GP or random forest learns the region is poor), or a failure before any trial has finished; after
      `max_draws` in a row the constraints are called unsatisfiable;
    - one of a point this search measured already is told that measurement; one of a point still training is told
      its result when it arrives. A second trial of the point would re-measure it with another training seed (on a
      table, another seed of the same row); TPE and the GP, with a few values per parameter, re-propose their
      incumbent often, and each repeat would spend an evaluation the other searchers spend on new points. After
      `REPEAT_DRAWS` repeats in a row the repeat becomes a trial.
    """

    def __init__(self, inner: Searcher, feasible: Callable[[list[Point]], np.ndarray] | None = None, *,
                 max_draws: int = FEASIBLE_DRAWS) -> None:
        super().__init__(metric=inner.metric, mode=inner.mode)
        self.inner, self.feasible, self.max_draws = inner, feasible, max_draws
        self.aliases: dict[str, str] = {}  # Tune's trial id -> the wrapped searcher's id of the proposal it trains
        self.worst: float | None = None  # the worst finite value measured so far
        self.rejected = 0  # infeasible proposals told back
        self.repeated = 0  # re-proposals of a measured or running point told back
        self.running: dict[str, str] = {}  # Tune's trial id -> its point's key
        self.measured: dict[str, dict[str, Any] | None] = {}  # point key -> the result its trial reported (None: failed)
        self.waiting: dict[str, list[str]] = {}  # Tune's trial id -> the wrapped ids of re-proposals of its point

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict[str, Any], **spec: Any) -> bool:
        return self.inner.set_search_properties(metric, mode, config, **spec)

    @property
    def metric(self) -> str | None:
        return self.inner.metric

    @property
    def mode(self) -> str | None:
        return self.inner.mode

    def suggest(self, trial_id: str) -> Point | str | None:
        infeasible = repeats = 0
        for draw in range(self.max_draws + REPEAT_DRAWS):
            inner_id = f"{trial_id}~{draw}"
            point = self.inner.suggest(inner_id)
            if not isinstance(point, dict):
                return point
            if not meets_constraints(self.feasible, point):
                infeasible += 1
                self.rejected += 1
                if infeasible >= self.max_draws:
                    break
                penalty = None if self.worst is None else {self.metric: self.worst}
                self.inner.on_trial_complete(inner_id, penalty, error=penalty is None)
                continue
            key = point_key(point)
            if repeats < REPEAT_DRAWS and self._answer_repeat(key, inner_id):
                repeats += 1
                continue
            self.aliases[trial_id], self.running[trial_id] = inner_id, key
            return point
        raise RuntimeError(f"{type(self.inner).__name__}: {self.max_draws} proposals in a row broke the constraints; loosen them")

    def _answer_repeat(self, key: str, inner_id: str) -> bool:
        """Tell a re-proposal what its point measured, or queue it for the running trial's result; False: a new point."""
        if key in self.measured:
            result = self.measured[key]
            self.inner.on_trial_complete(inner_id, result, error=result is None)
        elif running := next((trial for trial, k in self.running.items() if k == key), None):
            self.waiting.setdefault(running, []).append(inner_id)
        else:
            return False
        self.repeated += 1
        return True

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        if trial_id in self.aliases:
            self.inner.on_trial_result(self.aliases[trial_id], result)

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False) -> None:
        value = measured_value(result, self.metric, error)
        if value is not None:
            worse = min if self.mode == "max" else max
            self.worst = float(value) if self.worst is None else worse(self.worst, float(value))
        if trial_id in self.running:
            told = None if value is None else {self.metric: value}
            self.measured[self.running.pop(trial_id)] = told
            for inner_id in self.waiting.pop(trial_id, []):
                self.inner.on_trial_complete(inner_id, told, error=told is None)
        if trial_id in self.aliases:
            self.inner.on_trial_complete(self.aliases.pop(trial_id), result, error)

    def save(self, checkpoint_path: str) -> None:
        """One file (Tune renames it after `save`): the wrapped searcher's own checkpoint, base64, beside this state."""
        with tempfile.TemporaryDirectory() as folder:
            self.inner.save(str(Path(folder) / "inner"))
            inner = base64.b64encode((Path(folder) / "inner").read_bytes()).decode()
        state = {"inner": inner, "aliases": self.aliases, "worst": self.worst, "rejected": self.rejected, "repeated": self.repeated,
                 "running": self.running, "measured": self.measured, "waiting": self.waiting}
        atomic_write_text(checkpoint_path, json.dumps(state))

    def restore(self, checkpoint_path: str) -> None:
        state = json.loads(Path(checkpoint_path).read_text())
        with tempfile.TemporaryDirectory() as folder:
            (Path(folder) / "inner").write_bytes(base64.b64decode(state["inner"]))
            self.inner.restore(str(Path(folder) / "inner"))
        self.aliases, self.worst, self.rejected = state["aliases"], state["worst"], state["rejected"]
        self.repeated, self.running, self.measured, self.waiting = state["repeated"], state["running"], state["measured"], state["waiting"]
