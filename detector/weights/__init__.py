"""Pretrained weights, split by job as in timm: the registry of named checkpoints, download and reading, the d2go key
mapping, loading into a model, and inheritance into a different architecture."""

from __future__ import annotations

from core.lazy import lazy_exports

_EXPORTS = {
    "PretrainedWeights": "detector.weights.registry",
    "WEIGHTS": "detector.weights.registry",
    "resolve_weights": "detector.weights.registry",
    "read_checkpoint": "detector.weights.hub",
    "download": "detector.weights.hub",
    "to_d2go_state_dict": "detector.weights.d2go",
    "from_d2go_state_dict": "detector.weights.d2go",
    "LoadReport": "detector.weights.loading",
    "load_weights": "detector.weights.loading",
    "read_weights": "detector.weights.loading",
    "load_state_dict_into": "detector.weights.loading",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
