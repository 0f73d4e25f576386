"""Points of a search space, for tests that change one parameter."""

from __future__ import annotations

from typing import Any

import numpy as np

from search_spaces.params import Choice, Float, Int


def other_value(param: Any, value: Any) -> Any:
    """A value of `param` other than `value`."""
    if isinstance(param, Choice):
        return next(v for v in param.values if v != value)
    if isinstance(param, Int):
        return param.low if value != param.low else param.low + param.step
    assert isinstance(param, Float)
    return param.low if not np.isclose(value, param.low) else param.high
