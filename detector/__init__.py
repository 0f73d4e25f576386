"""FBNetV3OD: FBNetV3 C4 Faster R-CNN on torchvision, with every knob of the original d2go model.

The public names are imported lazily (PEP 562) so that light CLIs such as `detector.synthetic`
start without loading torchvision's detection stack.
"""

from __future__ import annotations

from core.lazy import lazy_exports

_EXPORTS = {
    "DetectorConfig": "detector.config",
    "load_config": "detector.config",
    "FBNetV3OD": "detector.modeling.model",
    "build_detector": "detector.modeling.model",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
