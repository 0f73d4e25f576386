"""A point of a search space and its identity: what searchers, evolution and tables pass around."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

Point = dict[str, Any]
"""`{parameter name: value}` of the searched, active parameters (pinned ones live in `space.fixed`)."""


def point_key(point: Mapping[str, Any]) -> str:
    """Canonical identity of a point (for 'untried' bookkeeping and joining measurements)."""
    return json.dumps(point, sort_keys=True, default=str)
