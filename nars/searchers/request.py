"""`SearchRequest`: what any searcher is built from, and `build_searcher`, which builds the one it names.

Each searcher class builds itself from the request (`from_request`), taking what it uses; a searcher that knows
neither the constraints nor what the search measured (Optuna, SMAC3) is wrapped in `ScreenedProposals`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nars.searchers.registry import UNCONSTRAINED, searcher_class

if TYPE_CHECKING:
    import numpy as np
    from ray.tune.search import Searcher

    from nars.config.experiment import SearchSettings
    from nars.config.settings import RoundSettings
    from nars.trial.costs import Costs
    from search_spaces.fbnetv3.space import FBNetV3Space
    from search_spaces.point import Point
    from search_spaces.protocol import Space


@dataclass(frozen=True)
class SearchRequest:
    """What a searcher is built from. `None` leaves a searcher's own default."""

    space: Space
    metric: str
    mode: str = "max"
    name: str = "nars"
    seed: int = 0
    max_trials: int | None = None
    initial_points: int | None = None
    """The start before a model (or hill climbing) takes over: NARS's Sobol round, TPE's and GP's startup trials,
    SMAC's initial design, local search's random points."""
    feasible: Callable[[list[Point]], np.ndarray] | None = None
    free_stats: Callable[[list[Point]], np.ndarray] | None = None
    costs: Callable[[list[Point]], dict[str, np.ndarray]] | None = None
    settings: RoundSettings | None = None
    """NARS's rounds, predictor and pretraining (None: `RoundSettings()`)."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """Keyword arguments of one searcher beyond the request (e.g. regularized evolution's `population`)."""


def build_searcher(request: SearchRequest) -> Searcher:
    """The searcher `request.name` names, built from the request; for those that know neither the constraints nor what
    they measured, infeasible points and repeats are screened out before they become trials."""
    searcher = searcher_class(request.name).from_request(request)
    if request.name in UNCONSTRAINED:
        from nars.searchers.screened import ScreenedProposals

        return ScreenedProposals(searcher, request.feasible)
    return searcher


def request_for(search: SearchSettings, space: FBNetV3Space, costs: Costs, max_trials: int) -> SearchRequest:
    """What the experiment's `search.searcher` is built from. Every searcher with a start phase begins with
    `search.initial_points` points before its model (or hill climbing) takes over, so that searchers compared at
    one trial budget have the same start."""
    from nars.config.settings import RoundSettings

    return SearchRequest(
        space, search.metric, "max", name=search.searcher, seed=search.seed, max_trials=max_trials, initial_points=search.initial_points,
        feasible=costs.feasibility, free_stats=costs.free_stats, costs=costs.objectives(search.cost_objectives),
        settings=RoundSettings.model_validate(search.model_dump(include=set(RoundSettings.model_fields))),
    )
