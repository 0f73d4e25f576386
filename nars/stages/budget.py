"""Choosing the proxy budget: the smallest training budget whose ranking of candidates agrees with the full one.

FBNetV3's early-stop rule, with the uncertainty stated: Kendall tau between the candidates' AP at a budget
and at the full budget, with a percentile bootstrap interval over candidates (resampled in pairs). A budget
is chosen only when the lower end of that interval reaches the threshold, so that four lucky candidates
cannot pick it. The bootstrap is a short loop here rather than `scipy.stats.bootstrap`, which gives up on
resamples whose tau is undefined (all-equal APs, common with few candidates); those are skipped.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.stats import kendalltau

CONFIDENCE = 0.9
RESAMPLES = 2000


@dataclass(frozen=True)
class BudgetAgreement:
    epochs: int
    kendall_tau: float
    interval: tuple[float, float]
    candidates: int

    def as_dict(self) -> dict[str, object]:
        return {"kendall_tau": self.kendall_tau, f"interval_{round(CONFIDENCE * 100)}": list(self.interval), "candidates": self.candidates}


def _tau(x: np.ndarray, y: np.ndarray) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant input: tau is undefined (NaN)
        return float(kendalltau(x, y).statistic)


def agreement(epochs: int, at_budget: np.ndarray, at_full: np.ndarray, seed: int = 0) -> BudgetAgreement:
    """Kendall tau of two AP vectors over the same candidates, with its bootstrap interval."""
    rng = np.random.default_rng(seed)
    n = len(at_full)
    taus = np.array([_tau(at_budget[i], at_full[i]) for i in (rng.integers(0, n, n) for _ in range(RESAMPLES))])
    taus = taus[np.isfinite(taus)]
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = (np.percentile(taus, [tail, 100 - tail]) if len(taus) else (np.nan, np.nan))
    return BudgetAgreement(epochs, _tau(at_budget, at_full), (float(low), float(high)), n)


def choose_budget(agreements: list[BudgetAgreement], full_epochs: int, threshold: float) -> int:
    """The smallest budget whose interval's lower end is >= threshold (the full budget if none is)."""
    supported = [a.epochs for a in agreements if np.isfinite(a.interval[0]) and a.interval[0] >= threshold]
    return min(supported, default=full_epochs)
