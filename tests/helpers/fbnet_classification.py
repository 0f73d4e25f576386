"""Test reference data: FBNetV3 A..G ImageNet classifiers (mobile_cv `fbnet_modeldef_cls_fbnetv3.py`),
built from the detector's FBNet blocks to check them block by block against the original parameter counts
and FLOPs (`test_fbnet_archs.py`). Not part of the detector: it only detects.

Classification archs use mobile_cv's basic args (depthwise conv with norm and activation, SE width from the
block's input channels) and end in an `ir_pool` block.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn

from detector.modeling.backbones.fbnet import NormFactory, build_stage
from detector.modeling.backbones.spec import BlockSpec, parse_stage


@dataclass(frozen=True)
class ClassificationArch:
    stages: list[list[BlockSpec]]
    input_size: int = 224
    num_classes: int = 1000
    width_divisor: int = 8


class FBNetClassifier(nn.Module):
    """ImageNet FBNetV3 (mobile_cv classification defs) with its 1x1-conv classifier head."""

    def __init__(self, arch: ClassificationArch, norm_layer: NormFactory = nn.BatchNorm2d) -> None:
        super().__init__()
        channels = 3
        stages = []
        for stage in arch.stages:
            module, channels = build_stage(
                channels, stage, norm_layer, width_divisor=arch.width_divisor, dw_norm_act=True, less_se_channels=True
            )
            stages.append(module)
        self.features = nn.Sequential(*stages)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(channels, arch.num_classes, 1), nn.Flatten(1))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


def build_fbnet_classifier(name: str, num_classes: int = 1000) -> FBNetClassifier:
    """Build one of `CLASSIFICATION_ARCHS` (`fbnetv3_a_cls` ... `fbnetv3_g_cls`)."""
    entry = CLASSIFICATION_ARCHS[name]
    return FBNetClassifier(ClassificationArch([parse_stage(s) for s in entry["stages"]], entry["input_size"], num_classes))


CLASSIFICATION_ARCHS: dict[str, dict[str, Any]] = {
    "fbnetv3_a_cls": {
        "input_size": 224,
        "stages": [
            [
                ("conv_k3_hs", 16, 2, 1),
            ],
            [
                ("ir_k3_hs", 16, 1, 2, {"expansion": 1}),
            ],
            [
                ("ir_k5_hs", 24, 2, 1, {"expansion": 4}),
                ("ir_k5_hs", 24, 1, 3, {"expansion": 2}),
            ],
            [
                ("ir_k5_sehsig_hs", 40, 2, 1, {"expansion": 5}),
                ("ir_k5_sehsig_hs", 40, 1, 4, {"expansion": 3}),
            ],
            [
                ("ir_k5_hs", 72, 2, 1, {"expansion": 5, "dw_padding": 1}),
                ("ir_k3_hs", 72, 1, 4, {"expansion": 3}),
                ("ir_k3_sehsig_hs", 120, 1, 1, {"expansion": 5}),
                ("ir_k5_sehsig_hs", 120, 1, 5, {"expansion": 3}),
            ],
            [
                ("ir_k3_sehsig_hs", 184, 2, 1, {"expansion": 6, "dw_padding": 0}),
                ("ir_k5_sehsig_hs", 184, 1, 5, {"expansion": 4}),
                ("ir_k5_sehsig_hs", 224, 1, 1, {"expansion": 6}),
            ],
            [
                ("ir_pool_hs", 1984, 1, 1, {"expansion": 6}),
            ],
        ],
    },
    "fbnetv3_b_cls": {
        "input_size": 248,
        "stages": [
            [
                ("conv_k3_hs", 16, 2, 1),
            ],
            [
                ("ir_k3_hs", 16, 1, 2, {"expansion": 1}),
            ],
            [
                ("ir_k5_hs", 24, 2, 1, {"expansion": 4}),
                ("ir_k5_hs", 24, 1, 3, {"expansion": 2}),
            ],
            [
                ("ir_k5_sehsig_hs", 40, 2, 1, {"expansion": 5}),
                ("ir_k5_sehsig_hs", 40, 1, 4, {"expansion": 3}),
            ],
            [
                ("ir_k5_hs", 72, 2, 1, {"expansion": 5, "dw_padding": 1}),
                ("ir_k3_hs", 72, 1, 4, {"expansion": 3}),
                ("ir_k3_sehsig_hs", 120, 1, 1, {"expansion": 5}),
                ("ir_k5_sehsig_hs", 120, 1, 5, {"expansion": 3}),
            ],
            [
                ("ir_k3_sehsig_hs", 184, 2, 1, {"expansion": 6, "dw_padding": 0}),
                ("ir_k5_sehsig_hs", 184, 1, 5, {"expansion": 4}),
                ("ir_k5_sehsig_hs", 224, 1, 1, {"expansion": 6}),
            ],
            [
                ("ir_pool_hs", 1984, 1, 1, {"expansion": 6}),
            ],
        ],
    },
    "fbnetv3_c_cls": {
        "input_size": 248,
        "stages": [
            [
                ("conv_k3_hs", 16, 2, 1),
            ],
            [
                ("ir_k3_hs", 16, 1, 2, {"expansion": 1}),
            ],
            [
                ("ir_k5_hs", 24, 2, 1, {"expansion": 5}),
                ("ir_k3_hs", 24, 1, 4, {"expansion": 3}),
            ],
            [
                ("ir_k5_sehsig_hs", 48, 2, 1, {"expansion": 5}),
                ("ir_k5_sehsig_hs", 48, 1, 4, {"expansion": 2}),
            ],
            [
                ("ir_k5_hs", 88, 2, 1, {"expansion": 4, "dw_padding": 1}),
                ("ir_k3_hs", 88, 1, 4, {"expansion": 3}),
                ("ir_k3_sehsig_hs", 120, 1, 1, {"expansion": 4}),
                ("ir_k5_sehsig_hs", 120, 1, 5, {"expansion": 3}),
            ],
            [
                ("ir_k5_sehsig_hs", 216, 2, 1, {"expansion": 5, "dw_padding": 1}),
                ("ir_k5_sehsig_hs", 216, 1, 5, {"expansion": 5}),
                ("ir_k5_sehsig_hs", 216, 1, 1, {"expansion": 6}),
            ],
            [
                ("ir_pool_hs", 1984, 1, 1, {"expansion": 6.0}),
            ],
        ],
    },
    "fbnetv3_d_cls": {
        "input_size": 248,
        "stages": [
            [
                ("conv_k3_hs", 24, 2, 1),
            ],
            [
                ("ir_k3_hs", 16, 1, 2, {"expansion": 1}),
            ],
            [
                ("ir_k3_hs", 24, 2, 1, {"expansion": 5}),
                ("ir_k3_hs", 24, 1, 5, {"expansion": 2}),
            ],
            [
                ("ir_k5_sehsig_hs", 40, 2, 1, {"expansion": 4}),
                ("ir_k3_sehsig_hs", 40, 1, 4, {"expansion": 3}),
            ],
            [
                ("ir_k3_hs", 72, 2, 1, {"expansion": 5}),
                ("ir_k3_hs", 72, 1, 4, {"expansion": 3}),
                ("ir_k3_sehsig_hs", 128, 1, 1, {"expansion": 5}),
                ("ir_k5_sehsig_hs", 128, 1, 6, {"expansion": 3}),
            ],
            [
                ("ir_k3_sehsig_hs", 208, 2, 1, {"expansion": 6}),
                ("ir_k5_sehsig_hs", 208, 1, 5, {"expansion": 5}),
                ("ir_k5_sehsig_hs", 240, 1, 1, {"expansion": 6}),
            ],
            [
                ("ir_pool_hs", 1984, 1, 1, {"expansion": 6.0}),
            ],
        ],
    },
    "fbnetv3_e_cls": {
        "input_size": 264,
        "stages": [
            [
                ("conv_k3_hs", 24, 2, 1),
            ],
            [
                ("ir_k3_hs", 16, 1, 3, {"expansion": 1}),
            ],
            [
                ("ir_k5_hs", 24, 2, 1, {"expansion": 4}),
                ("ir_k5_hs", 24, 1, 4, {"expansion": 2}),
            ],
            [
                ("ir_k5_sehsig_hs", 48, 2, 1, {"expansion": 4}),
                ("ir_k5_sehsig_hs", 48, 1, 4, {"expansion": 3}),
            ],
            [
                ("ir_k5_hs", 80, 2, 1, {"expansion": 5, "dw_padding": 1}),
                ("ir_k3_hs", 80, 1, 4, {"expansion": 3}),
                ("ir_k3_sehsig_hs", 128, 1, 1, {"expansion": 5}),
                ("ir_k5_sehsig_hs", 128, 1, 7, {"expansion": 3}),
            ],
            [
                ("ir_k3_sehsig_hs", 216, 2, 1, {"expansion": 6}),
                ("ir_k5_sehsig_hs", 216, 1, 5, {"expansion": 5}),
                ("ir_k5_sehsig_hs", 240, 1, 1, {"expansion": 6}),
            ],
            [
                ("ir_pool_hs", 1984, 1, 1, {"expansion": 6.0}),
            ],
        ],
    },
    "fbnetv3_f_cls": {
        "input_size": 272,
        "stages": [
            [
                ("conv_k3_hs", 24, 2, 1),
            ],
            [
                ("ir_k3_hs", 24, 1, 3, {"expansion": 1}),
            ],
            [
                ("ir_k5_hs", 32, 2, 1, {"expansion": 4}),
                ("ir_k5_hs", 32, 1, 4, {"expansion": 2}),
            ],
            [
                ("ir_k5_sehsig_hs", 56, 2, 1, {"expansion": 4}),
                ("ir_k5_sehsig_hs", 56, 1, 4, {"expansion": 3}),
            ],
            [
                ("ir_k5_hs", 88, 2, 1, {"expansion": 5}),
                ("ir_k3_hs", 88, 1, 4, {"expansion": 3}),
                ("ir_k3_sehsig_hs", 144, 1, 1, {"expansion": 5}),
                ("ir_k5_sehsig_hs", 144, 1, 8, {"expansion": 3}),
            ],
            [
                ("ir_k3_sehsig_hs", 248, 2, 1, {"expansion": 6, "dw_padding": 0}),
                ("ir_k5_sehsig_hs", 248, 1, 6, {"expansion": 5}),
                ("ir_k5_sehsig_hs", 272, 1, 1, {"expansion": 6}),
            ],
            [
                ("ir_pool_hs", 1984, 1, 1, {"expansion": 6.0}),
            ],
        ],
    },
    "fbnetv3_g_cls": {
        "input_size": 320,
        "stages": [
            [
                ("conv_k3_hs", 32, 2, 1),
            ],
            [
                ("ir_k3_hs", 24, 1, 3, {"expansion": 1}),
            ],
            [
                ("ir_k5_hs", 40, 2, 1, {"expansion": 4}),
                ("ir_k5_hs", 40, 1, 4, {"expansion": 2}),
            ],
            [
                ("ir_k5_sehsig_hs", 56, 2, 1, {"expansion": 4}),
                ("ir_k5_sehsig_hs", 56, 1, 4, {"expansion": 3}),
            ],
            [
                ("ir_k5_hs", 104, 2, 1, {"expansion": 5}),
                ("ir_k3_hs", 104, 1, 4, {"expansion": 3}),
                ("ir_k3_sehsig_hs", 160, 1, 1, {"expansion": 5}),
                ("ir_k5_sehsig_hs", 160, 1, 8, {"expansion": 3}),
            ],
            [
                ("ir_k3_sehsig_hs", 264, 2, 1, {"expansion": 6}),
                ("ir_k5_sehsig_hs", 264, 1, 6, {"expansion": 5}),
                ("ir_k5_sehsig_hs", 288, 1, 2, {"expansion": 6}),
            ],
            [
                ("ir_pool_hs", 1984, 1, 1, {"expansion": 6.0}),
            ],
        ],
    },
}
