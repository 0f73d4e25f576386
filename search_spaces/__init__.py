"""Typed joint search spaces: sampling, encoding and variation of points, FBNetV3 detector configs, cost.

Names are imported lazily (PEP 562): a plain space over any objective never loads torch.
"""

from __future__ import annotations

from core.lazy import lazy_exports

_EXPORTS = {
    "load_space": "search_spaces.load",
    "SearchSpace": "search_spaces.space",
    "Choice": "search_spaces.params",
    "Int": "search_spaces.params",
    "Float": "search_spaces.params",
    "FBNetV3Space": "search_spaces.fbnetv3.space",
    "Cost": "search_spaces.constraints",
    "CostModel": "search_spaces.fbnetv3.cost",
    "Constraint": "search_spaces.constraints",
    "parse_constraints": "search_spaces.constraints",
    "sample_feasible": "search_spaces.fbnetv3.cost",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
