"""FBNetV3OD: FBNetV3 C4 Faster R-CNN on torchvision, with every knob of the original d2go model."""

from detector.config import DetectorConfig, load_config
from detector.model import FBNetV3OD, build_detector

__all__ = ["DetectorConfig", "FBNetV3OD", "build_detector", "load_config"]
