"""FBNetV3 architecture tables.

Transcribed from the stage lists of d2go `modeling/modeldef/modeldef.py` (detection) and
mobile_cv `fbnet_modeldef_cls_fbnetv3.py` (ImageNet classification, A..G). Each block is
`(kind, out_channels, stride, repeats, {options})`; see `detector.backbones.spec` for the grammar.
Detection archs use d2go's basic args (width divisor 8, depthwise conv without norm/activation,
full-width SE); classification archs use mobile_cv's (depthwise norm+activation, reduced SE).
"""

from typing import Any

Stage = list[tuple[Any, ...]]

DETECTION_ARCHS: dict[str, dict[str, list[Stage]]] = {
    "fbnetv3_a": {
        "trunk": [
            [
                ("conv_k3", 16, 2, 1),
                ("ir_k3", 16, 1, 2, {"expansion": 1}),
            ],
            [
                ("ir_k5", 24, 2, 1, {"expansion": 4}),
                ("ir_k5", 24, 1, 3, {"expansion": 3}),
            ],
            [
                ("ir_k5_se", 32, 2, 1, {"expansion": 4}),
                ("ir_k3_se", 32, 1, 3, {"expansion": 3}),
            ],
            [
                ("ir_k5", 64, 2, 1, {"expansion": 4}),
                ("ir_k3", 64, 1, 3, {"expansion": 3}),
                ("ir_k5_se", 112, 1, 1, {"expansion": 4}),
                ("ir_k5_se", 112, 1, 5, {"expansion": 3}),
            ],
        ],
        "rpn": [
            [
                ("ir_k5_se", 112, 1, 5, {"expansion": 3}),
            ],
        ],
        "bbox": [
            [
                ("ir_k5_se", 184, 2, 1, {"expansion": 4}),
                ("ir_k3_se", 184, 1, 4, {"expansion": 4}),
                ("ir_k5_se", 200, 1, 1, {"expansion": 6}),
            ],
        ],
    },
    "fbnetv3_a_c5": {
        "trunk": [
            [
                ("conv_k3", 16, 2, 1),
                ("ir_k3", 16, 1, 2, {"expansion": 1}),
            ],
            [
                ("ir_k5", 24, 2, 1, {"expansion": 4}),
                ("ir_k5", 24, 1, 3, {"expansion": 3}),
            ],
            [
                ("ir_k5_se", 32, 2, 1, {"expansion": 4}),
                ("ir_k3_se", 32, 1, 3, {"expansion": 3}),
            ],
            [
                ("ir_k5", 64, 2, 1, {"expansion": 4}),
                ("ir_k3", 64, 1, 3, {"expansion": 3}),
                ("ir_k5_se", 112, 1, 1, {"expansion": 4}),
                ("ir_k5_se", 112, 1, 5, {"expansion": 3}),
            ],
            [
                ("ir_k5_se", 184, 2, 1, {"expansion": 4}),
                ("ir_k3_se", 184, 1, 4, {"expansion": 4}),
                ("ir_k5_se", 200, 1, 1, {"expansion": 6}),
            ],
        ],
        "rpn": [
            [
                ("ir_k5_se", 112, 1, 5, {"expansion": 3}),
            ],
        ],
        "bbox": [
            [
                ("ir_k5_se", 184, 2, 1, {"expansion": 4}),
                ("ir_k3_se", 184, 1, 4, {"expansion": 4}),
                ("ir_k5_se", 200, 1, 1, {"expansion": 6}),
            ],
        ],
    },
    "fbnetv3_b": {
        "trunk": [
            [
                ("conv_k3", 16, 2, 1),
                ("ir_k3", 16, 1, 2, {"expansion": 1}),
            ],
            [
                ("ir_k5", 24, 2, 1, {"expansion": 4}),
                ("ir_k5", 24, 1, 3, {"expansion": 2}),
            ],
            [
                ("ir_k5_se", 40, 2, 1, {"expansion": 5}),
                ("ir_k5_se", 40, 1, 4, {"expansion": 3}),
            ],
            [
                ("ir_k5", 72, 2, 1, {"expansion": 5}),
                ("ir_k3", 72, 1, 4, {"expansion": 3}),
                ("ir_k3_se", 120, 1, 1, {"expansion": 5}),
                ("ir_k5_se", 120, 1, 5, {"expansion": 3}),
            ],
        ],
        "rpn": [
            [
                ("ir_k5_se", 120, 1, 5, {"expansion": 3}),
            ],
        ],
        "bbox": [
            [
                ("ir_k3_se", 184, 2, 1, {"expansion": 6}),
                ("ir_k5_se", 184, 1, 5, {"expansion": 4}),
                ("ir_k5_se", 224, 1, 1, {"expansion": 6}),
            ],
        ],
    },
    "fbnetv3_b_c5": {
        "trunk": [
            [
                ("conv_k3", 16, 2, 1),
                ("ir_k3", 16, 1, 2, {"expansion": 1}),
            ],
            [
                ("ir_k5", 24, 2, 1, {"expansion": 4}),
                ("ir_k5", 24, 1, 3, {"expansion": 2}),
            ],
            [
                ("ir_k5_se", 40, 2, 1, {"expansion": 5}),
                ("ir_k5_se", 40, 1, 4, {"expansion": 3}),
            ],
            [
                ("ir_k5", 72, 2, 1, {"expansion": 5}),
                ("ir_k3", 72, 1, 4, {"expansion": 3}),
                ("ir_k3_se", 120, 1, 1, {"expansion": 5}),
                ("ir_k5_se", 120, 1, 5, {"expansion": 3}),
            ],
            [
                ("ir_k3_se", 184, 2, 1, {"expansion": 6}),
                ("ir_k5_se", 184, 1, 5, {"expansion": 4}),
                ("ir_k5_se", 224, 1, 1, {"expansion": 6}),
            ],
        ],
        "rpn": [
            [
                ("ir_k5_se", 120, 1, 5, {"expansion": 3}),
            ],
        ],
        "bbox": [
            [
                ("ir_k3_se", 184, 2, 1, {"expansion": 6}),
                ("ir_k5_se", 184, 1, 5, {"expansion": 4}),
                ("ir_k5_se", 224, 1, 1, {"expansion": 6}),
            ],
        ],
    },
    "fbnetv3_c": {
        "trunk": [
            [
                ("conv_k3", 16, 2, 1),
                ("ir_k3", 16, 1, 2, {"expansion": 1}),
            ],
            [
                ("ir_k5", 24, 2, 1, {"expansion": 5}),
                ("ir_k3", 24, 1, 4, {"expansion": 3}),
            ],
            [
                ("ir_k5_se", 48, 2, 1, {"expansion": 5}),
                ("ir_k5_se", 48, 1, 4, {"expansion": 2}),
            ],
            [
                ("ir_k5", 88, 2, 1, {"expansion": 4}),
                ("ir_k3", 88, 1, 4, {"expansion": 3}),
                ("ir_k3_se", 120, 1, 1, {"expansion": 4}),
                ("ir_k5_se", 120, 1, 5, {"expansion": 3}),
            ],
        ],
        "rpn": [
            [
                ("ir_k5_se", 120, 1, 5, {"expansion": 3}),
            ],
        ],
        "bbox": [
            [
                ("ir_k5_se", 216, 2, 1, {"expansion": 5}),
                ("ir_k5_se", 216, 1, 5, {"expansion": 5}),
                ("ir_k5_se", 216, 1, 1, {"expansion": 6}),
            ],
        ],
    },
    "fbnetv3_c_c5": {
        "trunk": [
            [
                ("conv_k3", 16, 2, 1),
                ("ir_k3", 16, 1, 2, {"expansion": 1}),
            ],
            [
                ("ir_k5", 24, 2, 1, {"expansion": 5}),
                ("ir_k3", 24, 1, 4, {"expansion": 3}),
            ],
            [
                ("ir_k5_se", 48, 2, 1, {"expansion": 5}),
                ("ir_k5_se", 48, 1, 4, {"expansion": 2}),
            ],
            [
                ("ir_k5", 88, 2, 1, {"expansion": 4}),
                ("ir_k3", 88, 1, 4, {"expansion": 3}),
                ("ir_k3_se", 120, 1, 1, {"expansion": 4}),
                ("ir_k5_se", 120, 1, 5, {"expansion": 3}),
            ],
            [
                ("ir_k5_se", 216, 2, 1, {"expansion": 5}),
                ("ir_k5_se", 216, 1, 5, {"expansion": 5}),
                ("ir_k5_se", 216, 1, 1, {"expansion": 6}),
            ],
        ],
        "rpn": [
            [
                ("ir_k5_se", 120, 1, 5, {"expansion": 3}),
            ],
        ],
        "bbox": [
            [
                ("ir_k5_se", 216, 2, 1, {"expansion": 5}),
                ("ir_k5_se", 216, 1, 5, {"expansion": 5}),
                ("ir_k5_se", 216, 1, 1, {"expansion": 6}),
            ],
        ],
    },
    "fbnetv3_d": {
        "trunk": [
            [
                ("conv_k3", 24, 2, 1),
                ("ir_k3", 16, 1, 2, {"expansion": 1}),
            ],
            [
                ("ir_k3", 24, 2, 1, {"expansion": 5}),
                ("ir_k3", 24, 1, 5, {"expansion": 2}),
            ],
            [
                ("ir_k5_se", 40, 2, 1, {"expansion": 4}),
                ("ir_k3_se", 40, 1, 4, {"expansion": 3}),
            ],
            [
                ("ir_k3", 72, 2, 1, {"expansion": 5}),
                ("ir_k3", 72, 1, 4, {"expansion": 3}),
                ("ir_k3_se", 128, 1, 1, {"expansion": 5}),
                ("ir_k5_se", 128, 1, 6, {"expansion": 3}),
            ],
        ],
        "rpn": [
            [
                ("ir_k5_se", 128, 1, 6, {"expansion": 3}),
            ],
        ],
        "bbox": [
            [
                ("ir_k3_se", 208, 2, 1, {"expansion": 6}),
                ("ir_k5_se", 208, 1, 5, {"expansion": 5}),
                ("ir_k5_se", 240, 1, 1, {"expansion": 6}),
            ],
        ],
    },
    "fbnetv3_e": {
        "trunk": [
            [
                ("conv_k3", 24, 2, 1),
                ("ir_k3", 16, 1, 3, {"expansion": 1}),
            ],
            [
                ("ir_k5", 24, 2, 1, {"expansion": 4}),
                ("ir_k5", 24, 1, 4, {"expansion": 2}),
            ],
            [
                ("ir_k5_se", 48, 2, 1, {"expansion": 4}),
                ("ir_k5_se", 48, 1, 4, {"expansion": 3}),
            ],
            [
                ("ir_k5", 80, 2, 1, {"expansion": 5}),
                ("ir_k3", 80, 1, 4, {"expansion": 3}),
                ("ir_k3_se", 128, 1, 1, {"expansion": 5}),
                ("ir_k5_se", 128, 1, 7, {"expansion": 3}),
            ],
        ],
        "rpn": [
            [
                ("ir_k5_se", 128, 1, 7, {"expansion": 3}),
            ],
        ],
        "bbox": [
            [
                ("ir_k3_se", 216, 2, 1, {"expansion": 6}),
                ("ir_k5_se", 216, 1, 5, {"expansion": 5}),
                ("ir_k5_se", 240, 1, 1, {"expansion": 6}),
            ],
        ],
    },
    "fbnetv3_f": {
        "trunk": [
            [
                ("conv_k3", 24, 2, 1),
                ("ir_k3", 24, 1, 3, {"expansion": 1}),
            ],
            [
                ("ir_k5", 32, 2, 1, {"expansion": 4}),
                ("ir_k5", 32, 1, 4, {"expansion": 2}),
            ],
            [
                ("ir_k5_se", 56, 2, 1, {"expansion": 4}),
                ("ir_k5_se", 56, 1, 4, {"expansion": 3}),
            ],
            [
                ("ir_k5", 88, 2, 1, {"expansion": 5}),
                ("ir_k3", 88, 1, 4, {"expansion": 3}),
                ("ir_k3_se", 144, 1, 1, {"expansion": 5}),
                ("ir_k5_se", 144, 1, 8, {"expansion": 3}),
            ],
        ],
        "rpn": [
            [
                ("ir_k5_se", 144, 1, 8, {"expansion": 3}),
            ],
        ],
        "bbox": [
            [
                ("ir_k3_se", 248, 2, 1, {"expansion": 6}),
                ("ir_k5_se", 248, 1, 6, {"expansion": 5}),
                ("ir_k5_se", 272, 1, 1, {"expansion": 6}),
            ],
        ],
    },
    "fbnetv3_f_c5": {
        "trunk": [
            [
                ("conv_k3", 24, 2, 1),
                ("ir_k3", 24, 1, 3, {"expansion": 1}),
            ],
            [
                ("ir_k5", 32, 2, 1, {"expansion": 4}),
                ("ir_k5", 32, 1, 4, {"expansion": 2}),
            ],
            [
                ("ir_k5_se", 56, 2, 1, {"expansion": 4}),
                ("ir_k5_se", 56, 1, 4, {"expansion": 3}),
            ],
            [
                ("ir_k5", 88, 2, 1, {"expansion": 5}),
                ("ir_k3", 88, 1, 4, {"expansion": 3}),
                ("ir_k3_se", 144, 1, 1, {"expansion": 5}),
                ("ir_k5_se", 144, 1, 8, {"expansion": 3}),
            ],
            [
                ("ir_k3_se", 248, 2, 1, {"expansion": 6}),
                ("ir_k5_se", 248, 1, 6, {"expansion": 5}),
                ("ir_k5_se", 272, 1, 1, {"expansion": 6}),
            ],
        ],
        "rpn": [
            [
                ("ir_k5_se", 144, 1, 8, {"expansion": 3}),
            ],
        ],
        "bbox": [
            [
                ("ir_k3_se", 248, 2, 1, {"expansion": 6}),
                ("ir_k5_se", 248, 1, 6, {"expansion": 5}),
                ("ir_k5_se", 272, 1, 1, {"expansion": 6}),
            ],
        ],
    },
    "fbnetv3_g": {
        "trunk": [
            [
                ("conv_k3", 32, 2, 1),
                ("ir_k3", 24, 1, 3, {"expansion": 1}),
            ],
            [
                ("ir_k5", 40, 2, 1, {"expansion": 4}),
                ("ir_k5", 40, 1, 4, {"expansion": 2}),
            ],
            [
                ("ir_k5_se", 56, 2, 1, {"expansion": 4}),
                ("ir_k5_se", 56, 1, 4, {"expansion": 3}),
            ],
            [
                ("ir_k5", 104, 2, 1, {"expansion": 5}),
                ("ir_k3", 104, 1, 4, {"expansion": 3}),
                ("ir_k3_se", 160, 1, 1, {"expansion": 5}),
                ("ir_k5_se", 160, 1, 8, {"expansion": 3}),
            ],
        ],
        "rpn": [
            [
                ("ir_k5_se", 160, 1, 8, {"expansion": 3}),
            ],
        ],
        "bbox": [
            [
                ("ir_k3_se", 264, 2, 1, {"expansion": 6}),
                ("ir_k5_se", 264, 1, 6, {"expansion": 5}),
                ("ir_k5_se", 288, 1, 2, {"expansion": 6}),
            ],
        ],
    },
    "fbnetv3_g_c5": {
        "trunk": [
            [
                ("conv_k3", 32, 2, 1),
                ("ir_k3", 24, 1, 3, {"expansion": 1}),
            ],
            [
                ("ir_k5", 40, 2, 1, {"expansion": 4}),
                ("ir_k5", 40, 1, 4, {"expansion": 2}),
            ],
            [
                ("ir_k5_se", 56, 2, 1, {"expansion": 4}),
                ("ir_k5_se", 56, 1, 4, {"expansion": 3}),
            ],
            [
                ("ir_k5", 104, 2, 1, {"expansion": 5}),
                ("ir_k3", 104, 1, 4, {"expansion": 3}),
                ("ir_k3_se", 160, 1, 1, {"expansion": 5}),
                ("ir_k5_se", 160, 1, 8, {"expansion": 3}),
            ],
            [
                ("ir_k3_se", 264, 2, 1, {"expansion": 6}),
                ("ir_k5_se", 264, 1, 6, {"expansion": 5}),
                ("ir_k5_se", 288, 1, 2, {"expansion": 6}),
            ],
        ],
        "rpn": [
            [
                ("ir_k5_se", 160, 1, 8, {"expansion": 3}),
            ],
        ],
        "bbox": [
            [
                ("ir_k3_se", 264, 2, 1, {"expansion": 6}),
                ("ir_k5_se", 264, 1, 6, {"expansion": 5}),
                ("ir_k5_se", 288, 1, 2, {"expansion": 6}),
            ],
        ],
    },
    "fbnetv3_h": {
        "trunk": [
            [
                ("conv_k3", 48, 2, 1),
                ("ir_k3", 32, 1, 4, {"expansion": 1}),
            ],
            [
                ("ir_k5", 64, 2, 1, {"expansion": 4}),
                ("ir_k5", 64, 1, 6, {"expansion": 2}),
            ],
            [
                ("ir_k5_se", 80, 2, 1, {"expansion": 4}),
                ("ir_k5_se", 80, 1, 6, {"expansion": 3}),
            ],
            [
                ("ir_k5", 160, 2, 1, {"expansion": 5}),
                ("ir_k3", 160, 1, 6, {"expansion": 3}),
                ("ir_k3_se", 240, 1, 1, {"expansion": 5}),
                ("ir_k5_se", 240, 1, 12, {"expansion": 3}),
            ],
        ],
        "rpn": [
            [
                ("ir_k5_se", 240, 1, 12, {"expansion": 3}),
            ],
        ],
        "bbox": [
            [
                ("ir_k3_se", 400, 2, 1, {"expansion": 6}),
                ("ir_k5_se", 400, 1, 8, {"expansion": 5}),
                ("ir_k5_se", 480, 1, 3, {"expansion": 6}),
            ],
        ],
    },
    "fbnetv3_a_dsmask_c5": {
        "trunk": [
            [
                ("conv_k3", 16, 2, 1),
                ("ir_k3", 16, 1, 1, {"expansion": 1}),
            ],
            [
                ("ir_k5", 32, 2, 1, {"expansion": 4}),
                ("ir_k5", 32, 1, 1, {"expansion": 2}),
            ],
            [
                ("ir_k5", 40, 2, 1, {"expansion": 4}),
                ("ir_k3", 40, 1, 3, {"expansion": 3}),
            ],
            [
                ("ir_k5", 72, 2, 1, {"expansion": 4}),
                ("ir_k3", 72, 1, 3, {"expansion": 3}),
                ("ir_k5", 112, 1, 1, {"expansion": 4}),
                ("ir_k5", 112, 1, 3, {"expansion": 4}),
            ],
            [
                ("ir_k5", 184, 2, 1, {"expansion": 4}),
                ("ir_k3", 184, 1, 4, {"expansion": 4}),
                ("ir_k5", 200, 1, 1, {"expansion": 6}),
            ],
        ],
        "rpn": [
            [
                ("ir_k5", 112, 1, 3, {"expansion": 4}),
            ],
        ],
        "bbox": [
            [
                ("ir_k3", 128, 2, 1, {"expansion": 4}),
                ("ir_k3", 128, 1, 2, {"expansion": 6}),
                ("ir_k3", 160, 1, 1, {"expansion": 6}),
            ],
        ],
    },
    "fbnetv3_a_dsmask": {
        "trunk": [
            [
                ("conv_k3", 16, 2, 1),
                ("ir_k3", 16, 1, 1, {"expansion": 1}),
            ],
            [
                ("ir_k5", 32, 2, 1, {"expansion": 4}),
                ("ir_k5", 32, 1, 1, {"expansion": 2}),
            ],
            [
                ("ir_k5", 40, 2, 1, {"expansion": 4}),
                ("ir_k3", 40, 1, 3, {"expansion": 3}),
            ],
            [
                ("ir_k5", 72, 2, 1, {"expansion": 4}),
                ("ir_k3", 72, 1, 3, {"expansion": 3}),
                ("ir_k5", 112, 1, 1, {"expansion": 4}),
                ("ir_k5", 112, 1, 3, {"expansion": 4}),
            ],
        ],
        "rpn": [
            [
                ("ir_k5", 112, 1, 3, {"expansion": 4}),
            ],
        ],
        "bbox": [
            [
                ("ir_k3", 128, 2, 1, {"expansion": 4}),
                ("ir_k3", 128, 1, 2, {"expansion": 6}),
                ("ir_k3", 160, 1, 1, {"expansion": 6}),
            ],
        ],
    },
    "fbnetv3_a_dsmask_tiny": {
        "trunk": [
            [
                ("conv_k3", 8, 2, 1),
                ("ir_k3", 8, 1, 1, {"expansion": 1}),
            ],
            [
                ("ir_k5", 16, 2, 1, {"expansion": 3}),
                ("ir_k5", 16, 1, 1, {"expansion": 2}),
            ],
            [
                ("ir_k5", 24, 2, 1, {"expansion": 4}),
                ("ir_k3", 24, 1, 2, {"expansion": 3}),
            ],
            [
                ("ir_k5", 40, 2, 1, {"expansion": 4}),
                ("ir_k3", 40, 1, 2, {"expansion": 3}),
                ("ir_k5", 64, 1, 1, {"expansion": 4}),
                ("ir_k5", 64, 1, 2, {"expansion": 3}),
            ],
        ],
        "rpn": [
            [
                ("ir_k5", 64, 1, 2, {"expansion": 3}),
            ],
        ],
        "bbox": [
            [
                ("ir_k3", 64, 2, 1, {"expansion": 4}),
                ("ir_k3", 64, 1, 2, {"expansion": 4}),
                ("ir_k3", 80, 1, 1, {"expansion": 4}),
            ],
        ],
    },
    "fbnetv3_b_light_large_3layers": {
        "trunk": [
            [
                ("conv_k3", 16, 2, 1),
                ("ir_k3", 16, 1, 2, {"expansion": 1}),
            ],
            [
                ("ir_k5", 24, 2, 1, {"expansion": 4}),
                ("ir_k5", 24, 1, 2, {"expansion": 2}),
            ],
            [
                ("ir_k5", 40, 2, 1, {"expansion": 5}),
                ("ir_k5", 40, 1, 3, {"expansion": 3}),
            ],
        ],
        "rpn": [
            [
                ("ir_k5", 120, 1, 5, {"expansion": 3}),
            ],
        ],
        "bbox": [
            [
                ("ir_k3", 128, 2, 1, {"expansion": 4}),
                ("ir_k3", 128, 1, 2, {"expansion": 6}),
                ("ir_k3", 160, 1, 1, {"expansion": 6}),
            ],
        ],
    },
    "fbnetv3_b_light_large": {
        "trunk": [
            [
                ("conv_k3", 16, 2, 1),
                ("ir_k3", 16, 1, 2, {"expansion": 1}),
            ],
            [
                ("ir_k5", 24, 2, 1, {"expansion": 4}),
                ("ir_k5", 24, 1, 2, {"expansion": 2}),
            ],
            [
                ("ir_k5", 40, 2, 1, {"expansion": 5}),
                ("ir_k5", 40, 1, 3, {"expansion": 3}),
            ],
            [
                ("ir_k5", 72, 2, 1, {"expansion": 5}),
                ("ir_k3", 72, 1, 4, {"expansion": 3}),
                ("ir_k3", 120, 1, 1, {"expansion": 5}),
                ("ir_k5", 120, 1, 5, {"expansion": 3}),
            ],
        ],
        "rpn": [
            [
                ("ir_k5", 120, 1, 5, {"expansion": 3}),
            ],
        ],
        "bbox": [
            [
                ("ir_k3", 128, 2, 1, {"expansion": 4}),
                ("ir_k3", 128, 1, 2, {"expansion": 6}),
                ("ir_k3", 160, 1, 1, {"expansion": 6}),
            ],
        ],
    },
    "fbnetv3_b_large": {
        "trunk": [
            [
                ("conv_k3", 16, 2, 1),
                ("ir_k3", 16, 1, 2, {"expansion": 1}),
            ],
            [
                ("ir_k5", 24, 2, 1, {"expansion": 4}),
                ("ir_k5", 24, 1, 3, {"expansion": 2}),
            ],
            [
                ("ir_k5", 40, 2, 1, {"expansion": 5}),
                ("ir_k5", 40, 1, 4, {"expansion": 3}),
            ],
            [
                ("ir_k5", 72, 2, 1, {"expansion": 5}),
                ("ir_k3", 72, 1, 4, {"expansion": 3}),
                ("ir_k3", 120, 1, 1, {"expansion": 5}),
                ("ir_k5", 120, 1, 5, {"expansion": 3}),
            ],
        ],
        "rpn": [
            [
                ("ir_k5", 120, 1, 5, {"expansion": 3}),
            ],
        ],
        "bbox": [
            [
                ("ir_k3", 160, 2, 1, {"expansion": 4}),
                ("ir_k3", 160, 1, 2, {"expansion": 6}),
                ("ir_k3", 240, 1, 1, {"expansion": 6}),
            ],
        ],
    },
    "fbnetv3_b_light_no_se_c5": {
        "trunk": [
            [
                ("conv_k3", 16, 2, 1),
                ("ir_k3", 16, 1, 2, {"expansion": 1}),
            ],
            [
                ("ir_k5", 24, 2, 1, {"expansion": 4}),
                ("ir_k5", 24, 1, 2, {"expansion": 2}),
            ],
            [
                ("ir_k5", 40, 2, 1, {"expansion": 5}),
                ("ir_k5", 40, 1, 3, {"expansion": 3}),
            ],
            [
                ("ir_k5", 72, 2, 1, {"expansion": 5}),
                ("ir_k3", 72, 1, 4, {"expansion": 3}),
                ("ir_k3", 120, 1, 1, {"expansion": 5}),
                ("ir_k5", 120, 1, 5, {"expansion": 3}),
            ],
            [
                ("ir_k3", 184, 2, 1, {"expansion": 6}),
                ("ir_k5", 184, 1, 5, {"expansion": 4}),
                ("ir_k5", 224, 1, 1, {"expansion": 6}),
            ],
        ],
        "rpn": [
            [
                ("ir_k5", 120, 1, 5, {"expansion": 3}),
            ],
        ],
        "bbox": [
            [
                ("ir_k3", 184, 2, 1, {"expansion": 6}),
                ("ir_k5", 184, 1, 5, {"expansion": 4}),
                ("ir_k5", 224, 1, 1, {"expansion": 6}),
            ],
        ],
    },
    "fbnetv3_g_fpn": {
        "trunk": [
            [
                ("conv_k3", 32, 2, 1),
                ("ir_k3", 24, 1, 3, {"expansion": 1}),
            ],
            [
                ("ir_k5", 40, 2, 1, {"expansion": 4}),
                ("ir_k5", 40, 1, 4, {"expansion": 2}),
            ],
            [
                ("ir_k5_se", 56, 2, 1, {"expansion": 4}),
                ("ir_k5_se", 56, 1, 4, {"expansion": 3}),
            ],
            [
                ("ir_k5", 104, 2, 1, {"expansion": 5}),
                ("ir_k3", 104, 1, 4, {"expansion": 3}),
                ("ir_k3_se", 160, 1, 1, {"expansion": 5}),
                ("ir_k5_se", 160, 1, 8, {"expansion": 3}),
            ],
            [
                ("ir_k3_se", 264, 2, 1, {"expansion": 6}),
                ("ir_k5_se", 264, 1, 6, {"expansion": 5}),
                ("ir_k5_se", 288, 1, 2, {"expansion": 6}),
            ],
        ],
        "rpn": [
            [
                ("ir_k5_se", 160, 1, 1, {"expansion": 3}),
            ],
        ],
        "bbox": [
            [
                ("ir_k3_se", 264, 2, 1, {"expansion": 6}),
                ("ir_k5_se", 264, 1, 6, {"expansion": 5}),
                ("ir_k5_se", 288, 1, 2, {"expansion": 6}),
            ],
        ],
    },
}

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
