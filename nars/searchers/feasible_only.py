"""`FeasibleOnly`: constraints for searchers that cannot take them (Optuna, SMAC3), without spending trials."""

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
from search_spaces.point import Point


class FeasibleOnly(Searcher):
    """Wraps a searcher that cannot take constraints (Optuna, SMAC3) so that it spends no trial on an infeasible point.

    Costs such as FLOPs are free to compute, so a proposal that breaks the constraints is told back to the wrapped
    searcher at once and it is asked again, up to `max_draws` times; only a feasible point becomes a Tune trial.
    It is told as the worst value measured so far (the "death penalty", the usual way to give constraints to a
    model that has none: TPE puts it among the bad trials, a GP or random forest learns the region is poor), or as a
    failure before any trial has finished. Without this, TPE spends trials on models that may not be deployed and,
    having learnt nothing of the constraint, keeps proposing them.
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
        value = measured_value(result, self.metric, error)
        if value is not None:
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
