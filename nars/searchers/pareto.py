"""Pareto helpers for multi-objective search (maximise accuracy, minimise costs).

Hand-written numpy because the libraries at hand only have it privately (Optuna's
`_fast_non_domination_rank` is internal API) and pymoo would be a heavy dependency for 20 lines.
"""

from __future__ import annotations

import numpy as np


def _as_minimisation(objectives: np.ndarray, maximize: list[bool]) -> np.ndarray:
    values = np.asarray(objectives, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != len(maximize):
        raise ValueError(f"objectives must be [n, {len(maximize)}], got {values.shape}")
    return np.where(np.asarray(maximize)[None, :], -values, values)


def pareto_mask(objectives: np.ndarray, maximize: list[bool]) -> np.ndarray:
    """True for the points no other point dominates (at least as good everywhere, better somewhere)."""
    values = _as_minimisation(objectives, maximize)
    finite = np.isfinite(values).all(axis=1)
    mask = np.zeros(len(values), dtype=bool)
    candidates = values[finite]
    if len(candidates):
        dominated = ((candidates[:, None, :] <= candidates[None, :, :]).all(-1) & (candidates[:, None, :] < candidates[None, :, :]).any(-1))
        mask[np.flatnonzero(finite)] = ~dominated.any(axis=0)
    return mask


def non_dominated_rank(objectives: np.ndarray, maximize: list[bool]) -> np.ndarray:
    """NSGA-II front index per point (0 = Pareto front); points with NaN get the last rank."""
    values = np.asarray(objectives, dtype=np.float64)
    rank = np.full(len(values), len(values), dtype=np.int64)
    remaining = np.flatnonzero(np.isfinite(values).all(axis=1))
    front = 0
    while remaining.size:
        mask = pareto_mask(values[remaining], maximize)
        rank[remaining[mask]] = front
        remaining = remaining[~mask]
        front += 1
    return rank
