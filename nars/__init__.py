"""NARS: Neural Architecture-Recipe Search on Ray Tune (predictor, searcher, evolution, CLI).

Names are imported lazily (PEP 562) so that `python -m nars.search --help` starts quickly.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "NARSSearcher": "nars.searcher",
    "RoundSettings": "nars.searcher",
    "AccuracyPredictor": "nars.predictor",
    "make_predictor": "nars.predictor",
    "evolve": "nars.evolution",
    "load_experiment": "nars.experiment",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'nars' has no attribute {name!r}")
