"""Predictor-only evolutionary search: finds better predicted points, respects constraints (its speed: benchmarks/search_overhead.py)."""

from __future__ import annotations

import numpy as np

from nars.config.settings import EvolutionSettings
from nars.stages.evolution import evolve
from search_spaces import load_space

SPACE = {"parameters": {**{f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(6)},
                        **{f"op{i}": {"type": "choice", "values": ["a", "b", "c"]} for i in range(4)}}}


def predict_of(space):
    """A known 'predictor': prefers x near 0.7 and op 'b'."""
    columns = space.feature_names

    def predict(X: np.ndarray) -> np.ndarray:
        x = np.stack([X[:, columns.index(f"x{i}")] for i in range(6)], axis=1)
        b = sum(X[:, columns.index(f"op{i}=b")] for i in range(4))
        return -((x - 0.7) ** 2).sum(axis=1) + 0.3 * b

    return predict


def test_evolution_beats_its_random_start_and_respects_constraints():
    space = load_space(SPACE)
    predict = predict_of(space)
    start = predict(space.encode(space.sample(128, seed=0, method="random"))).max()
    feasible = lambda points: np.array([p["x0"] <= 0.6 for p in points])
    result = evolve(space, predict, feasible=feasible, settings=EvolutionSettings(population=64, generations=15, children_per_generation=1024), progress=False)
    assert result.best_predicted > start + 0.1
    assert result.best["x0"] <= 0.6
    assert result.history == sorted(result.history), "elitist: the best never gets worse"
    assert result.scored == 64 + 15 * 1024


def test_multi_objective_evolution_returns_a_front():
    space = load_space(SPACE)
    costs = lambda points: {"flops": np.array([p["x1"] for p in points])}
    result = evolve(space, predict_of(space), costs=costs, settings=EvolutionSettings(population=48, generations=8, children_per_generation=512), progress=False)
    flops = result.front_costs["flops"]
    assert len(result.front) >= 2
    # along the front (sorted by predicted accuracy, best first) the cost falls as accuracy falls
    assert all(a >= b for a, b in zip(result.front_predicted, result.front_predicted[1:]))
    assert all(a >= b - 1e-12 for a, b in zip(flops, flops[1:]))
