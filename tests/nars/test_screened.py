"""`ScreenedProposals`: Optuna and SMAC proposals that break the constraints never become trials, they are told back as
the worst value measured so far; re-proposals of a measured or running point are told its result instead of spending
a trial; the wrapped searcher keeps learning from every trial across a save and restore. No searcher gives up on a
constraint that few points meet. Optuna sees an ordered choice as an ordered integer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from ray.tune.search import Searcher

from nars.searchers.screened import REPEAT_DRAWS, ScreenedProposals
from nars.searchers.optuna import OptunaSearcher
from search_spaces import load_space
from search_spaces.point import point_key

SPACE = load_space({"parameters": {"x": {"type": "float", "low": 0.0, "high": 1.0}, "y": {"type": "float", "low": 0.0, "high": 1.0}}})


def below_diagonal(points: list[dict]) -> np.ndarray:
    return np.array([p["x"] + p["y"] <= 0.6 for p in points])  # 18% of the square; the best feasible x is 0.6


def tpe() -> ScreenedProposals:
    return ScreenedProposals(OptunaSearcher(SPACE, "optuna-tpe", seed=0, metric="score", mode="max", startup=4), below_diagonal)


def test_only_feasible_points_become_trials_and_rejections_are_told_as_the_worst_value(tmp_path):
    searcher, scores = tpe(), []
    for i in range(16):
        point = searcher.suggest(str(i))
        assert below_diagonal([point])[0], point
        scores.append(point["x"])
        searcher.on_trial_complete(str(i), {"score": point["x"]})
    trials = searcher.inner._ot_study.trials  # in the order they were asked
    worst, rejected = None, 0
    for trial in trials:
        if trial.params["x"] + trial.params["y"] <= 0.6:
            assert trial.state.name == "COMPLETE"
            worst = trial.value if worst is None else min(worst, trial.value)
        else:  # a failure before any result, then the worst value measured before it
            rejected += 1
            assert (trial.state.name, trial.value) == (("FAIL", None) if worst is None else ("COMPLETE", worst))
    assert rejected == searcher.rejected > 0 and len(trials) - rejected == 16

    searcher.suggest("16")  # running when the search is interrupted
    searcher.save(str(tmp_path / "searcher.pkl"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["searcher.pkl"]  # one file: Tune renames it after save
    resumed = tpe()
    resumed.restore(str(tmp_path / "searcher.pkl"))
    assert (resumed.rejected, resumed.worst, list(resumed.aliases)) == (searcher.rejected, min(scores), ["16"])
    resumed.on_trial_complete("16", {"score": 0.5})  # the running trial's result reaches the restored study
    assert sum(t.state.name == "COMPLETE" and t.params["x"] + t.params["y"] <= 0.6 for t in resumed.inner._ot_study.trials) == 17


def test_constraints_nothing_satisfies_are_a_clear_error():
    searcher = ScreenedProposals(OptunaSearcher(SPACE, "optuna-tpe", seed=0, metric="score", mode="max"), lambda points: np.zeros(len(points), bool),
                            max_draws=5)
    with pytest.raises(RuntimeError, match="5 proposals in a row broke the constraints; loosen them"):
        searcher.suggest("0")


def near_the_origin(points: list[dict]) -> np.ndarray:
    return np.array([p["x"] + p["y"] <= 0.14 for p in points])  # 1% of the square


@pytest.mark.parametrize("kind", ["random", "local", "optuna-tpe"])
def test_a_constraint_that_one_point_in_a_hundred_meets_does_not_stop_a_searcher(kind):
    """At 100 draws per suggestion (the old limit) each suggestion here failed with probability 0.99**100 = 37%."""
    from nars.searchers.local import LocalSearch
    from nars.searchers.random_search import RandomSearcher

    if kind == "random":
        searcher = RandomSearcher(SPACE, feasible=near_the_origin, seed=0, metric="score", mode="max")
    elif kind == "local":
        searcher = LocalSearch(SPACE, initial=4, feasible=near_the_origin, seed=0, metric="score", mode="max")
    else:
        searcher = ScreenedProposals(OptunaSearcher(SPACE, kind, seed=0, metric="score", mode="max", startup=4), near_the_origin)
    for i in range(6):
        point = searcher.suggest(str(i))
        assert isinstance(point, dict) and near_the_origin([point])[0], point
        searcher.on_trial_complete(str(i), {"score": point["x"]})


class Scripted(Searcher):
    """Proposes the points of a script in turn and records what it is told (the wrapped searcher's view)."""

    def __init__(self, script: list[dict]) -> None:
        super().__init__(metric="score", mode="max")
        self.script, self.told = list(script), {}

    def suggest(self, trial_id: str) -> dict:
        return dict(self.script.pop(0)) if len(self.script) > 1 else dict(self.script[0])

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        self.told[trial_id] = None if error else result["score"]

    def save(self, checkpoint_path: str) -> None:
        Path(checkpoint_path).write_text(json.dumps({"script": self.script, "told": self.told}))

    def restore(self, checkpoint_path: str) -> None:
        state = json.loads(Path(checkpoint_path).read_text())
        self.script, self.told = state["script"], state["told"]


A, B, C = {"x": 0.1, "y": 0.1}, {"x": 0.2, "y": 0.1}, {"x": 0.3, "y": 0.1}


def test_a_repeat_costs_no_trial_and_is_told_what_its_point_measured(tmp_path):
    searcher = ScreenedProposals(Scripted([A, A, B, A, C]))
    assert searcher.suggest("t0") == A
    assert searcher.suggest("t1") == B  # A again while it trains: no second trial, its result is owed
    searcher.save(str(tmp_path / "state"))  # interrupted here: the owed answer survives a restore
    resumed = ScreenedProposals(Scripted([]))
    resumed.restore(str(tmp_path / "state"))
    for screened in (searcher, resumed):
        screened.on_trial_complete("t0", {"score": 5.0})
        assert screened.inner.told == {"t0~0": 5.0, "t1~0": 5.0}  # the trial's and the repeat's, when it arrived
        assert screened.suggest("t2") == C and screened.inner.told["t2~0"] == 5.0  # A, measured: told at once
        assert screened.repeated == 2
        screened.on_trial_complete("t1", None, error=True)
        screened.inner.script = [B, C]
        assert screened.suggest("t3") == C and screened.inner.told["t3~0"] is None  # B failed: told as a failure


def test_a_searcher_that_insists_on_one_point_gets_it_after_the_repeats():
    searcher = ScreenedProposals(Scripted([A]))
    assert searcher.suggest("t0") == A
    searcher.on_trial_complete("t0", {"score": 1.0})
    assert searcher.suggest("t1") == A and searcher.repeated == REPEAT_DRAWS  # the search goes on, as without the wrapper
    assert list(searcher.inner.told.values()) == [1.0] * (REPEAT_DRAWS + 1)


def test_tpe_on_a_small_grid_spends_every_trial_on_a_new_point():
    grid = load_space({"parameters": {"lr": {"type": "choice", "values": [0.001, 0.01, 0.1], "ordered": True},
                                      "width": {"type": "choice", "values": [16, 64, 256], "ordered": True},
                                      "act": {"type": "choice", "values": ["relu", "tanh"]}}})
    searcher = ScreenedProposals(OptunaSearcher(grid, "optuna-tpe", seed=0, metric="score", mode="max", startup=3))
    seen = []
    for i in range(12):
        point = searcher.suggest(str(i))
        assert set(point) == {"lr", "width", "act"} and point["lr"] in (0.001, 0.01, 0.1) and point["width"] in (16, 64, 256)
        seen.append(point_key(point))
        searcher.on_trial_complete(str(i), {"score": -abs(np.log10(point["lr"]) + 2) - abs(np.log2(point["width"]) - 6)})
    assert len(set(seen)) == 12 and searcher.repeated > 0  # 12 of the 18 points, none twice; TPE did propose repeats
    distributions = searcher.inner._ot_study.trials[0].distributions
    assert type(distributions["lr"]).__name__ == "IntDistribution" and (distributions["lr"].low, distributions["lr"].high) == (0, 2)
    assert type(distributions["act"]).__name__ == "CategoricalDistribution"
