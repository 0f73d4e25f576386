"""Free-statistic pretraining is used only where the statistic ranks the measured trials."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.toy_objective import objective
from nars.config.settings import RoundSettings
from nars.predictor.pretraining import FreeStatPretraining, informative_columns
from nars.searchers.nars import NARSSearcher
from nars.trial.keys import point_of
from search_spaces import load_space

SPACE = {"parameters": {**{f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(4)},
                        "op": {"type": "choice", "values": ["a", "b", "c"]}}}


def test_informative_columns_keeps_a_ranking_statistic_and_drops_noise_and_constants():
    rng = np.random.default_rng(0)
    y = rng.normal(size=40)
    stats = np.column_stack([-y + 0.1 * rng.normal(size=40), rng.normal(size=40), np.ones(40)])
    decision = informative_columns(stats, y, alpha=0.1)
    assert decision.columns == [0], "the anti-correlated column passes (the sign does not matter), noise and a constant do not"
    assert decision.taus[0] < -0.8 and decision.p_values[0] < 1e-6
    assert decision.p_values[1] > 0.1 and np.isnan(decision.p_values[2])
    assert informative_columns(stats[:, 1], y, alpha=1.0).columns == [0], "alpha 1 keeps any defined tau"


class RecordingPredictor:
    def __init__(self) -> None:
        self.pretrained: list[np.ndarray] = []

    def pretrain(self, X: np.ndarray, stats: np.ndarray) -> None:
        self.pretrained.append(stats)


def test_pretrains_only_on_the_columns_that_pass_and_samples_once():
    space = load_space(SPACE)
    calls = []

    def free_stats(points):  # column 0 tracks the objective, column 1 is the op's index (unrelated here)
        calls.append(len(points))
        return np.array([[objective(p), "abc".index(p["op"])] for p in points])

    pretraining = FreeStatPretraining(space, free_stats, points=64, seed=1, alpha=0.05)
    labelled = space.sample(30, seed=2, method="random")
    y = np.array([objective(p) for p in labelled])
    first, second = RecordingPredictor(), RecordingPredictor()
    decision = pretraining.apply(first, labelled, y)
    pretraining.apply(second, labelled, y)
    assert decision.columns == [0]
    assert first.pretrained[0].shape == (64, 1)
    np.testing.assert_array_equal(first.pretrained[0], second.pretrained[0])
    assert calls == [30, 64, 30], "the unlabelled sample's statistics are computed once"

    unrelated = RecordingPredictor()
    assert not pretraining.apply(unrelated, labelled, np.full(30, 0.5)).used
    assert unrelated.pretrained == [], "no column ranks tied measurements: no pretraining"
    with pytest.raises(ValueError, match="alpha"):
        FreeStatPretraining(space, free_stats, points=8, seed=0, alpha=0.0)


@pytest.mark.parametrize("informative", [True, False])
def test_searcher_rounds_record_the_decision(informative):
    space = load_space(SPACE)
    rng = np.random.default_rng(5)

    def free_stats(points):
        return np.array([[objective(p) if informative else rng.normal()] for p in points])

    settings = RoundSettings(initial_points=12, round_size=4, candidate_pool=128, predictor={"pretrain_points": 32, "options": {"ensemble_size": 2}})
    searcher = NARSSearcher(space, metric="score", mode="max", settings=settings, free_stats=free_stats, seed=0)
    for i in range(16):
        config = searcher.suggest(f"t{i}")
        searcher.on_trial_complete(f"t{i}", {"score": objective(point_of(config))})
    round_one = searcher.round_predictions[-1]
    assert round_one["trained_on"] == 12
    assert round_one["pretrained_on"] == ([0] if informative else [])
    assert len(round_one["free_stat_tau"]) == 1
