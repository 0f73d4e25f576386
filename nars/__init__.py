"""NARS: Neural Architecture-Recipe Search on Ray Tune (predictor, searcher, evolution, CLI).

Names are imported lazily (PEP 562) so that `python -m nars.search --help` starts quickly.
"""

from __future__ import annotations

from core.lazy import lazy_exports

_EXPORTS = {
    "NARSSearcher": "nars.searchers.nars",
    "RoundSettings": "nars.config.settings",
    "AccuracyPredictor": "nars.predictor",
    "make_predictor": "nars.predictor",
    "evolve": "nars.stages.evolution",
    "load_experiment": "nars.config.experiment",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
