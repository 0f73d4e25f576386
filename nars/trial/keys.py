"""What a search adds beside the point: keys in a trial's config (the searcher's bookkeeping) and in its
reported results (the share of the proxy budget trained, infeasibility).

The searcher writes the config keys, the trainable reports the result keys, and the trial tables read
both; they are defined here, below all three.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from search_spaces.point import Point

# keys the searcher adds to a trial's config beside the point (its round and the predictor's guess)
ROUND_KEY = "nars_round"
PREDICTED_KEY = "nars_predicted"
PREDICTED_STD_KEY = "nars_predicted_std"
BOOKKEEPING_PREFIX = "nars_"
# reported by a detector trial with every epoch: epochs done / proxy epochs (1.0: the whole proxy budget)
BUDGET_KEY = "budget"
# reported by a trial whose point breaks a constraint (1.0: not trained, no accuracy)
INFEASIBLE_KEY = "infeasible"


def split_config(config: Mapping[str, Any]) -> tuple[Point, dict[str, Any]]:
    """A trial config as (point of the space, searcher bookkeeping such as the round)."""
    point = {k: v for k, v in config.items() if not k.startswith(BOOKKEEPING_PREFIX)}
    return point, {k: v for k, v in config.items() if k.startswith(BOOKKEEPING_PREFIX)}


def point_of(config: Mapping[str, Any]) -> Point:
    """The point of a trial config (without the searcher's bookkeeping keys)."""
    return split_config(config)[0]


def measured_value(result: dict[str, Any] | None, metric: str | None, error: bool = False) -> float | None:
    """The metric a finished trial measured; None for a failed or infeasible trial or a non-finite value
    (nothing a searcher may learn from)."""
    if error or not result or result.get(INFEASIBLE_KEY):
        return None
    value = result.get(metric)
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)
