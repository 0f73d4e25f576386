"""The final evolution stays inside the values the trials measured, where the predictor interpolates."""

from __future__ import annotations

import numpy as np

from nars.config.settings import EvolutionSettings
from nars.stages.evolution import evolve
from nars.stages.final import within_span
from nars.stages.measured_span import MeasuredSpan
from search_spaces import load_space

SPACE = {"parameters": {
    "x": {"type": "float", "low": 0.0, "high": 1.0},
    "op": {"type": "choice", "values": ["a", "b", "c"]},
    "size": {"type": "choice", "values": [1, 2, 4, 8], "ordered": True},
    "depth": {"type": "int", "low": 1, "high": 9},
    "y": {"type": "float", "low": 0.0, "high": 1.0, "when": {"op": "a"}},
}}
MEASURED = [
    {"x": 0.2, "op": "a", "size": 2, "depth": 3, "y": 0.3},
    {"x": 0.5, "op": "b", "size": 4, "depth": 6},
]


def test_numbers_and_ordered_choices_keep_to_the_measured_interval_unordered_ones_to_the_measured_values():
    span = MeasuredSpan(load_space(SPACE), MEASURED)
    inside = {"x": 0.35, "op": "b", "size": 2, "depth": 5}
    candidates = [
        inside,
        inside | {"x": 0.1},  # below the lowest measured x
        inside | {"depth": 7},  # above the highest measured depth
        inside | {"size": 8},  # an ordered choice beyond the measured ones
        inside | {"op": "c"},  # an unordered choice no trial held
        inside | {"op": "a", "y": 0.3},  # y is active now, at its measured value
        inside | {"op": "a", "y": 0.9},  # y is active, beyond it
    ]

    assert span.contains(candidates).tolist() == [True, False, False, False, False, True, False]


def test_a_parameter_no_trial_held_active_is_outside_wherever_it_is_active():
    space = load_space({"parameters": {"depth": {"type": "int", "low": 1, "high": 9},
                                       "z": {"type": "float", "low": 0.0, "high": 1.0, "when": {"depth": 5}}}})
    span = MeasuredSpan(space, [{"depth": 3}, {"depth": 6}])  # depth 5 lies between them, but z was never trained

    assert span.contains([{"depth": 4}, {"depth": 5, "z": 0.5}]).tolist() == [True, False]


def test_the_constraints_see_only_points_inside_the_span():
    span = MeasuredSpan(load_space(SPACE), MEASURED)
    checked = []

    def constraints(points):
        checked.extend(points)
        return np.array([p["depth"] <= 4 for p in points])

    feasible = within_span(span, constraints)
    mask = feasible([{"x": 0.3, "op": "b", "size": 2, "depth": 4}, {"x": 0.9, "op": "b", "size": 2, "depth": 4},
                     {"x": 0.3, "op": "b", "size": 2, "depth": 5}])

    assert mask.tolist() == [True, False, False]
    assert [p["x"] for p in checked] == [0.3, 0.3], "the point outside the span reached the constraints"


def test_an_evolution_that_would_extrapolate_stays_inside_the_measured_values():
    space = load_space({"parameters": {f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(3)}})
    measured = space.sample(8, seed=0, method="random")
    highest = max(p["x0"] for p in measured)

    def rising(features: np.ndarray) -> np.ndarray:  # a predictor that extrapolates: more x0 is always better
        return features[:, 0]

    settings = EvolutionSettings(population=32, generations=10, children_per_generation=256)
    free = evolve(space, rising, seeds=measured, settings=settings, progress=False)
    bounded = evolve(space, rising, seeds=measured, feasible=MeasuredSpan(space, measured).contains, settings=settings, progress=False)

    assert free.best["x0"] > highest + 0.02, "without the span the evolution extrapolates (the case guarded against)"
    assert highest - 0.02 <= bounded.best["x0"] <= highest
