"""Choosing the proxy budget by rank agreement with its bootstrap interval (`nars.stages.budget`)."""

from __future__ import annotations

import numpy as np
import pytest

from nars.stages.budget import agreement, choose_budget


def test_agreement_and_its_interval():
    full = np.arange(12, dtype=float)
    same = agreement(2, full + 1.0, full)
    assert same.kendall_tau == pytest.approx(1.0) and same.interval == pytest.approx((1.0, 1.0)) and same.candidates == 12
    noisy = agreement(1, full + np.random.default_rng(0).normal(0, 4, 12), full, seed=0)
    low, high = noisy.interval
    assert low < noisy.kendall_tau < high and high - low > 0.2, "few candidates: a wide interval"
    assert agreement(1, full + np.random.default_rng(0).normal(0, 4, 12), full, seed=0) == noisy, "seeded"


def test_the_smallest_supported_budget_is_chosen():
    full = np.arange(12, dtype=float)
    rng = np.random.default_rng(1)
    agreements = [agreement(1, rng.permutation(full), full), agreement(2, full + rng.normal(0, 0.3, 12), full), agreement(4, full, full)]
    assert agreements[0].interval[0] < 0.6 <= agreements[1].interval[0]
    assert choose_budget(agreements, full_epochs=12, threshold=0.6) == 2
    assert choose_budget(agreements[:1], full_epochs=12, threshold=0.6) == 12, "no budget supported: the full one"


def test_constant_aps_give_no_support():
    result = agreement(1, np.zeros(6), np.arange(6, dtype=float))
    assert np.isnan(result.kendall_tau) and np.isnan(result.interval[0])
    assert choose_budget([result], full_epochs=4, threshold=0.5) == 4


@pytest.mark.parametrize("budgets", [[0], [12], [3, 13]])
def test_budgets_must_lie_below_the_full_one(budgets):
    from nars.config.experiment import CalibrationSettings

    with pytest.raises(ValueError, match="budgets must lie in 1..11"):
        CalibrationSettings(budgets=budgets, full_epochs=12)
