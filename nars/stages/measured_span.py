"""The part of a search space that the measured trials span: where the final stage may trust its predictor.

A predictor fitted on a few dozen trials extrapolates beyond the values it was trained on: a ReLU MLP's
prediction keeps rising along whichever direction its last linear piece points, and a one-hot column that
no trial sets holds an untrained weight. An evolution that maximises the predictor finds exactly such
extrapolations, at the ends of a range no trial measured (BENCHMARKS.md, "Detection search"). Bounding the
evolution by the measured values, per parameter, keeps it to interpolation, as trust-region Bayesian
optimisation (TuRBO, Eriksson et al. 2019) bounds its proposals; here the box is the data's rather than one
around the incumbent, because the final stage trains nothing more to correct itself.

Hand-written because scikit-learn and scipy offer no box of mixed categorical and numeric values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from search_spaces.params import MISSING, Choice
from search_spaces.point import Point

if TYPE_CHECKING:
    from search_spaces.protocol import Space


class MeasuredSpan:
    """Per searched parameter, the values the measured points hold where it is active.

    Numbers and ordered choices: the interval from the lowest to the highest measured value. Unordered
    choices: the measured values themselves (the order of their codes means nothing).
    A point lies in the span when every parameter active in it holds such a value.
    """

    def __init__(self, space: Space, measured: Sequence[Point]) -> None:
        self._space = space
        self._limits: list[tuple[float, float] | set[float]] = []
        for param in space.params:
            codes = self._column(param, measured)
            seen = codes[~np.isnan(codes)]
            if isinstance(param, Choice) and not param.ordered:
                self._limits.append(set(seen.tolist()))
            else:
                self._limits.append((float(seen.min()), float(seen.max())) if seen.size else (np.inf, -np.inf))

    @staticmethod
    def _column(param: Any, points: Sequence[Point]) -> np.ndarray:
        """Codes of `param` in `points`; NaN where it is inactive."""
        return param.codes_of([p.get(param.name, MISSING) for p in points])

    def contains(self, points: Sequence[Point]) -> np.ndarray:
        """A boolean mask: which points hold only measured values (the `feasible` signature of `nars.stages.evolution`)."""
        inside = np.ones(len(points), dtype=bool)
        for param, limit in zip(self._space.params, self._limits, strict=True):
            codes = self._column(param, points)
            active = ~np.isnan(codes)
            if isinstance(limit, set):
                ok = np.fromiter((c in limit for c in codes), dtype=bool, count=len(codes))
            else:
                with np.errstate(invalid="ignore"):
                    ok = (codes >= limit[0]) & (codes <= limit[1])
            inside &= ~active | ok
        return inside
