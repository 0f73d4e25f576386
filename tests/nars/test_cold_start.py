"""Mechanisms for few labels, each on small synthetic functions where the right answer is known: a calibrated std
covers about 68% of what it has not seen (the final stage's doubt), and a minimised positive metric is learnt on a
log scale (the searcher's target)."""

from __future__ import annotations

import numpy as np
import pytest

from nars.config.settings import RoundSettings
from nars.predictor import make_predictor
from nars.predictor.calibration import NOISE_SHARE, Calibration, cross_validated
from nars.predictor.targets import TargetTransform
from nars.searchers.nars import NARSSearcher
from search_spaces import load_space


@pytest.mark.parametrize("ensemble_spread", [0.2, 1.5])
def test_a_calibrated_std_covers_about_68_percent_of_new_residuals(ensemble_spread):
    """An overconfident ensemble (its spread a fifth of the real error) and an underconfident one (1.5x): after the
    fit on 300 residuals, +-1 calibrated std covers 68% of 4,000 fresh ones (binomial sd 0.7%; fit error ~3%)."""
    rng = np.random.default_rng(0)
    error = rng.uniform(0.5, 2.0, 4300)  # the true error scale varies from point to point
    raw = ensemble_spread * error  # the ensemble sees it, with the wrong scale
    residuals = rng.normal(0.0, error)
    calibration = Calibration.fit(residuals[:300], raw[:300], label_std=1.0)
    coverage = np.mean(np.abs(residuals[300:]) <= calibration.std(raw[300:]))
    assert 0.62 <= coverage <= 0.74, coverage
    assert Calibration.fit(np.array([]), np.array([]), label_std=2.0) == Calibration(1.0, NOISE_SHARE * 2.0)
    assert calibration.std(np.zeros(3)) == pytest.approx(np.full(3, calibration.floor))  # members agreeing are not certain


def test_cross_validated_residuals_calibrate_a_predictor_on_few_labels():
    """12 labels of a noisy quadratic: the out-of-fold residuals calibrate the GP's std so that it covers about 68% of
    200 new points, where its own std covers far less or far more."""
    rng = np.random.default_rng(1)
    X = rng.uniform(0, 1, (212, 3))
    y = -((X - 0.4) ** 2).sum(axis=1) * 10 + rng.normal(0, 0.3, 212)
    residuals, raw = cross_validated(lambda: make_predictor("mlp", ensemble_size=3), X[:12], y[:12], folds=4)
    assert residuals.shape == raw.shape == (12,) and np.isfinite(residuals).all()
    calibration = Calibration.fit(residuals, raw, label_std=float(y[:12].std()))
    mean, std = make_predictor("mlp", ensemble_size=3).fit(X[:12], y[:12]).predict(X[12:], return_std=True)
    covered = np.mean(np.abs(y[12:] - mean) <= calibration.std(std))
    assert 0.45 <= covered <= 0.9, covered  # 12 residuals estimate one scale roughly
    assert np.mean(np.abs(y[12:] - mean) <= std) < covered  # the raw ensemble was overconfident


def test_a_minimised_positive_metric_is_learnt_on_a_log_scale():
    losses = np.array([3e-5, 0.2, 7028.0])
    log = TargetTransform.for_metric("min", losses)
    assert log.log and log.name == "-log"
    targets = log.to_target(losses)
    assert np.all(np.diff(targets) < 0) and targets.max() - targets.min() < 20  # order kept, decades compressed
    value, std = log.to_metric(targets, np.full(3, 0.1))
    assert value == pytest.approx(losses) and std == pytest.approx(0.1 * losses)
    assert not TargetTransform.for_metric("min", np.array([-1.0, 2.0])).log  # a difference, not a positive loss
    assert not TargetTransform.for_metric("max", losses).log  # accuracy keeps its scale
    assert TargetTransform.for_metric("min", np.array([-1.0, 2.0])).to_target(np.array([2.0])) == pytest.approx([-2.0])


def test_a_search_on_a_loss_fits_its_log_and_reports_in_the_loss_units():
    space = load_space({"parameters": {f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(3)}})
    searcher = NARSSearcher(space, metric="loss", mode="min", seed=0,
                            settings=RoundSettings(initial_points=6, round_size=2, candidate_pool=64,
                                                   predictor={"options": {"ensemble_size": 3}}))
    for i in range(10):
        point = {k: v for k, v in searcher.suggest(str(i)).items() if not k.startswith("nars_")}
        searcher.on_trial_complete(str(i), {"loss": float(np.exp(10 * sum((v - 0.3) ** 2 for v in point.values())))})
    assert [r["target"] for r in searcher.round_predictions] == ["-log", "-log"]
    last = searcher.round_predictions[-1]
    target_mean = searcher.predictor.predict(space.encode(last["points"]))
    assert last["predicted"] == pytest.approx(np.exp(-target_mean).tolist())  # the loss, not its negative log


def test_too_few_labels_to_cross_validate_leave_the_std_as_it_is():
    residuals, raw = cross_validated(lambda: make_predictor("mlp", ensemble_size=2), np.eye(3), np.arange(3.0))
    assert residuals.size == raw.size == 0 and Calibration.fit(residuals, raw, label_std=1.0).scale == 1.0
    residuals, _ = cross_validated(lambda: make_predictor("mlp", ensemble_size=2), np.eye(5), np.arange(5.0))
    assert residuals.shape == (5,)  # 2 folds of 2-3 held out, each fitted on 2-3 labels
