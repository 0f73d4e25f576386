"""What the predictor learns: the measured metric turned into a quantity to maximise, on a scale where it is smooth.

A minimised loss or error spans decades (FCNet's naval val_loss runs from 3e-5 to 7,000): on the raw scale the best
configurations are indistinguishable after standardising, and a handful of bad ones set the scale. Such a metric is
learnt as -log(value). The choice follows from the metric's direction and range (a minimised metric whose values are
all positive), never from the table or data set, so one default serves every search.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TargetTransform:
    """`to_target` maps measured values to the maximised quantity the predictor fits; `to_metric` maps a predicted mean
    (and std) back to the metric's units, for the trial table and the reports."""

    mode: str  # the metric's direction: "max" or "min"
    log: bool = False

    @classmethod
    def for_metric(cls, mode: str, values: np.ndarray) -> TargetTransform:
        """Log for a minimised metric whose measured values are all positive (a loss, an error, a latency)."""
        values = np.asarray(values, dtype=np.float64)
        return cls(mode, log=mode == "min" and values.size > 0 and bool((values > 0).all()))

    def to_target(self, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=np.float64)
        if self.log:
            return -np.log(values)
        return -values if self.mode == "min" else values

    def to_metric(self, mean: np.ndarray, std: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The metric's predicted value and a std in its units (for a log target, the std of the first-order expansion)."""
        mean, std = np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64)
        if self.log:
            value = np.exp(-mean)
            return value, value * std
        return (-mean if self.mode == "min" else mean), std

    @property
    def name(self) -> str:
        return "-log" if self.log else ("-value" if self.mode == "min" else "value")
