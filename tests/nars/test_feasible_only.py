"""`FeasibleOnly`: Optuna and SMAC proposals that break the constraints never become trials, they are told back as
the worst value measured so far, and the wrapped searcher keeps learning from every trial across a save and restore.
No searcher gives up on a constraint that few points meet."""

from __future__ import annotations

import numpy as np
import pytest

from nars.searchers.feasible_only import FeasibleOnly
from nars.searchers.optuna import OptunaSearcher
from search_spaces import load_space

SPACE = load_space({"parameters": {"x": {"type": "float", "low": 0.0, "high": 1.0}, "y": {"type": "float", "low": 0.0, "high": 1.0}}})


def below_diagonal(points: list[dict]) -> np.ndarray:
    return np.array([p["x"] + p["y"] <= 0.6 for p in points])  # 18% of the square; the best feasible x is 0.6


def tpe() -> FeasibleOnly:
    return FeasibleOnly(OptunaSearcher(SPACE, "optuna-tpe", seed=0, metric="score", mode="max", startup=4), below_diagonal)


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
    searcher = FeasibleOnly(OptunaSearcher(SPACE, "optuna-tpe", seed=0, metric="score", mode="max"), lambda points: np.zeros(len(points), bool),
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
        searcher = FeasibleOnly(OptunaSearcher(SPACE, kind, seed=0, metric="score", mode="max", startup=4), near_the_origin)
    for i in range(6):
        point = searcher.suggest(str(i))
        assert isinstance(point, dict) and near_the_origin([point])[0], point
        searcher.on_trial_complete(str(i), {"score": point["x"]})
