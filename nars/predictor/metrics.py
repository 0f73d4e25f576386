"""Predictor quality on held-out trials.

A search only uses the predictor to *order* candidates, so rank correlations (Kendall tau,
Spearman) are the figures that matter; RMSE is reported beside them in the target's units.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats


def ranking_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Kendall tau-b, Spearman rho and RMSE of `y_pred` against `y_true` (1-D, same length).

    A constant prediction has no ranking: its correlations are NaN (scipy's convention, without
    its warning, since the NaN already says it).
    """
    y_true = np.asarray(y_true, dtype=np.float64).ravel()
    y_pred = np.asarray(y_pred, dtype=np.float64).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has {y_true.size} values but y_pred has {y_pred.size}")
    if y_true.size < 2:
        raise ValueError(f"ranking metrics need at least 2 points, got {y_true.size}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        tau = stats.kendalltau(y_true, y_pred).statistic
        rho = stats.spearmanr(y_true, y_pred).statistic
    return {"kendall_tau": float(tau), "spearman": float(rho), "rmse": float(np.sqrt(np.mean((y_true - y_pred) ** 2)))}
