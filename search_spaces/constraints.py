"""Cost constraints of a search (`"flops <= 600e6"`, `"latency_ms <= 50"`) and the cost of one point.

Constraints are parsed by a regex (never `eval`), with no torch import: the experiment schema checks them
when it loads, and searchers pass the parsed form around.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from core.errors import ConfigError

METRICS = ("flops", "params", "latency_ms")
"""The cost metrics: what a constraint or a cost objective names."""

_OPERATORS: dict[str, Callable[[float, float], bool]] = {"<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt}
_CONSTRAINT = re.compile(
    r"^\s*(?P<metric>[A-Za-z_]+)\s*(?P<op><=|>=|<|>)\s*(?P<bound>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$"
)


@dataclass(frozen=True)
class Cost:
    flops: int
    params: int
    latency_ms: float | None = None
    latency_spread_ms: float | None = None
    """Interquartile range of the timed runs: how far a repeat measurement may fall."""


@dataclass(frozen=True)
class Constraint:
    """`metric op bound`, e.g. flops <= 6e8; metric one of `METRICS`."""

    metric: str
    op: str
    bound: float
    text: str = field(default="", compare=False)
    """The constraint as written (keeps `1e6` rather than printing `1e+06`)."""

    @classmethod
    def parse(cls, text: str) -> Constraint:
        match = _CONSTRAINT.match(text) if isinstance(text, str) else None
        if match is None or match["metric"] not in METRICS:
            raise ConfigError(
                f"malformed constraint {text!r}: expected '<metric> <op> <number>' with metric one of "
                f"{', '.join(METRICS)} and op one of {', '.join(_OPERATORS)} (e.g. 'flops <= 600e6')"
            )
        return cls(match["metric"], match["op"], float(match["bound"]), f"{match['metric']} {match['op']} {match['bound']}")

    def holds(self, value: float) -> bool:
        return _OPERATORS[self.op](value, self.bound)

    @property
    def upper(self) -> bool:
        """True for an upper bound (`<`, `<=`): the smallest value seen is the one that tells."""
        return self.op.startswith("<")

    def __str__(self) -> str:
        return self.text or f"{self.metric} {self.op} {self.bound:g}"


def parse_constraints(items: str | Constraint | Sequence[str | Constraint] | None) -> list[Constraint]:
    """Constraints from YAML (`constraints: ["flops <= 600e6", "params <= 5e6"]`)."""
    if items is None:
        return []
    if isinstance(items, (str, Constraint)):
        items = [items]
    return [c if isinstance(c, Constraint) else Constraint.parse(c) for c in items]
