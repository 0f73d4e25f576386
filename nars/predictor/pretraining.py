"""Predictor pretraining on free statistics, used only where they rank the measured trials.

FBNetV3 pretrains the predictor's encoder on statistics that cost no training run (log FLOPs,
log params). That helps when such a statistic orders accuracy, and hurts when it does not: on
FCNet tables model size ranks configurations with Kendall tau about 0, and pretraining on it made
the search slower than no pretraining (BENCHMARKS.md, "Predictor quality" and "Search
efficiency"). So before each fit the statistics are tested against the trials measured so far
(Kendall tau, two-sided p-value from scipy) and the encoder is pretrained only on the columns
that pass; with none, the predictor is fitted from scratch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.stats import kendalltau

from nars.config.settings import PredictorSettings
from search_spaces.point import Point

if TYPE_CHECKING:
    from search_spaces.protocol import Space

SAMPLE_SEED_OFFSET = 7919
"""Added to the search seed for the unlabelled sample: an arbitrary prime, so that the sample is not the same draw
as the other samples seeded with the search seed (round 0's Sobol pool, the evolution's first population)."""


@dataclass(frozen=True)
class PretrainDecision:
    """Which free-statistic columns the encoder was pretrained on, and the evidence."""

    taus: list[float]
    p_values: list[float]
    columns: list[int]

    @property
    def used(self) -> bool:
        return bool(self.columns)

    def as_dict(self) -> dict[str, Any]:
        return {"free_stat_tau": self.taus, "free_stat_p": self.p_values, "pretrained_on": self.columns}


def informative_columns(stats: np.ndarray, y: np.ndarray, alpha: float) -> PretrainDecision:
    """Columns of `stats` [n, k] whose Kendall tau with `y` [n] has a two-sided p-value <= `alpha`.

    The sign does not matter (the encoder learns the statistic, the head learns how accuracy
    relates to it). A constant column or target gives NaN, which never passes.
    """
    stats = np.asarray(stats, dtype=np.float64)
    stats = stats[:, None] if stats.ndim == 1 else stats
    taus, p_values = [], []
    for column in stats.T:
        result = kendalltau(column, y)
        taus.append(float(result.statistic))
        p_values.append(float(result.pvalue))
    columns = [i for i, p in enumerate(p_values) if np.isfinite(p) and p <= alpha]
    return PretrainDecision(taus, p_values, columns)


class FreeStatPretraining:
    """Pretrains a predictor on a fixed unlabelled sample's free statistics, gated per fit.

    Args:
        space: the search space (`sample`, `encode`).
        free_stats: points -> [n, k] free statistics (logs of FLOPs, params, model size ...).
        points: size of the unlabelled sample (drawn once, on first use, then reused).
        seed: the sample's seed.
        alpha: significance level of the Kendall tau test; 1.0 pretrains whenever tau is defined.
    """

    def __init__(self, space: Space, free_stats: Callable[[list[Point]], np.ndarray], *, points: int, seed: int, alpha: float) -> None:
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"alpha must lie in (0, 1], got {alpha}")
        self.space = space
        self.free_stats = free_stats
        self.points = points
        self.seed = seed
        self.alpha = alpha
        self._sample: tuple[np.ndarray, np.ndarray] | None = None

    @classmethod
    def for_search(cls, space: Space, free_stats: Callable[[list[Point]], np.ndarray], settings: PredictorSettings,
                   seed: int) -> FreeStatPretraining | None:
        """The pretraining a search's predictor settings ask for (an MLP with `pretrain_points` > 0), else None;
        the searcher's rounds and the final predictor get the same one."""
        if settings.kind != "mlp" or settings.pretrain_points <= 0:
            return None
        return cls(space, free_stats, points=settings.pretrain_points, seed=seed + SAMPLE_SEED_OFFSET, alpha=settings.pretrain_alpha)

    def apply(self, predictor: Any, labelled: Sequence[Point], y: np.ndarray) -> PretrainDecision:
        """Test the statistics on the labelled points and pretrain `predictor` on those that pass."""
        decision = informative_columns(np.asarray(self.free_stats(list(labelled)), dtype=np.float64), np.asarray(y, dtype=np.float64),
                                       self.alpha)
        if decision.used:
            X, stats = self._unlabelled()
            predictor.pretrain(X, stats[:, decision.columns])
        return decision

    def _unlabelled(self) -> tuple[np.ndarray, np.ndarray]:
        if self._sample is None:
            points = self.space.sample(self.points, seed=self.seed, method="random")
            stats = np.asarray(self.free_stats(points), dtype=np.float64)
            self._sample = (self.space.encode(points), stats[:, None] if stats.ndim == 1 else stats)
        return self._sample
