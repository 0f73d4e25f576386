"""A predictor's uncertainty made honest: one scale factor on the ensemble's spread, fitted on residuals of
predictions made without the point's own label (`cross_validated`), plus a noise floor.

An ensemble of a few members trained on the same handful of labels agrees with itself far more than with the next
measurement (its +-1 std covered 12-40% of the next round's values in the table searches of issue 37). The final stage
asks whether a predicted point is surely better than the best trial, so the spread is rescaled: z = (measured -
predicted) / std over out-of-fold predictions, and the scale makes the median |z| 0.674, the median of a standard
normal's |z|: +-1 std then covers about 68% of such residuals when they are Gaussian, and a few large misses do not
widen it for every other point, as a root mean square would. The mean is left untouched. The floor (a share of the
labels' spread) stands for measurement noise (another training seed gives another value) and keeps a point the
members happen to agree on from looking certain.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from nars.predictor.base import Predictor

NOISE_SHARE = 0.1
"""The noise floor, as a share of the labels' standard deviation in target units."""
MEDIAN_ABS_Z = 0.6745
"""The median of |z| for a standard normal z: half of the residuals lie within 0.6745 calibrated std."""
SCALE_RANGE = (0.5, 20.0)
MIN_FIT = 2
"""Labels a predictor's fit needs (`nars.predictor.base.check_training_data`)."""
"""Bounds of the scale factor: a few residuals must not collapse or explode the uncertainty."""


@dataclass(frozen=True)
class Calibration:
    """`std(raw)` = sqrt((scale * raw)^2 + floor^2), in target units."""

    scale: float = 1.0
    floor: float = 0.0

    def std(self, raw: np.ndarray) -> np.ndarray:
        return np.sqrt((self.scale * np.asarray(raw, dtype=np.float64)) ** 2 + self.floor**2)

    @classmethod
    def fit(cls, residuals: np.ndarray, raw_std: np.ndarray, label_std: float) -> Calibration:
        """From out-of-sample `residuals` (measured - predicted, target units) and the ensemble's `raw_std` for the same
        points; `label_std`: the spread of all labels, which sets the floor. No residuals yet: scale 1."""
        floor = NOISE_SHARE * float(label_std)
        residuals, raw_std = np.asarray(residuals, dtype=np.float64), np.asarray(raw_std, dtype=np.float64)
        if residuals.size == 0:
            return cls(1.0, floor)
        # the scale s solving median(|r| / sqrt(s^2 std^2 + floor^2)) = 0.674, by bisection on log s (monotone in s)
        low, high = np.log(SCALE_RANGE[0]), np.log(SCALE_RANGE[1])
        for _ in range(40):
            mid = (low + high) / 2
            z = np.abs(residuals) / np.sqrt(np.exp(2 * mid) * raw_std**2 + floor**2 + 1e-300)
            low, high = (mid, high) if np.median(z) > MEDIAN_ABS_Z else (low, mid)
        return cls(float(np.exp((low + high) / 2)), floor)


def cross_validated(make: Callable[[], Predictor], X: np.ndarray, targets: np.ndarray, folds: int = 5,
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold residuals (measured - predicted) and raw stds of a predictor `make()` builds, over `folds` folds:
    the evidence `Calibration.fit` takes where no round has yet predicted points before measuring them (the first
    predicted round, and the final stage's one fit over every trial)."""
    from sklearn.model_selection import KFold

    X, targets = np.asarray(X, dtype=np.float64), np.asarray(targets, dtype=np.float64)
    if len(targets) < 2 * MIN_FIT:  # a fold must leave a fit its minimum: no evidence (scale 1)
        return np.empty(0), np.empty(0)
    folds = min(folds, len(targets) // MIN_FIT)
    residuals, stds = np.empty(len(targets)), np.empty(len(targets))
    for train, held_out in KFold(folds, shuffle=True, random_state=seed).split(X):
        mean, std = make().fit(X[train], targets[train]).predict(X[held_out], return_std=True)
        residuals[held_out], stds[held_out] = targets[held_out] - mean, std
    return residuals, stds
