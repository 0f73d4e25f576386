"""FBNetV3 detection architectures of d2go, registered by name with `register_arch` (timm's `register_model`
pattern): each function returns its spec, and `model.arch: <function name>` builds it.

Transcribed from the stage lists of d2go `modeling/modeldef/modeldef.py`. Each block is
`(kind, out_channels, stride, repeats, {options})`; see `detector.modeling.backbones.spec` for the grammar.
Detection archs use d2go's basic args (width divisor 8, depthwise conv without norm/activation,
full-width SE). A `_c5` arch is its base arch with a fifth, stride-32 trunk stage (`with_c5`).
"""

from __future__ import annotations

from detector.modeling.backbones.registry import ArchSpec, Stage, register_arch


def with_c5(base: ArchSpec, c5: Stage | None = None) -> ArchSpec:
    """The C5 variant of `base`: its trunk plus a fifth stage `c5` (by default the base's box-head stage, as in
    d2go's FBNetV3 C5 archs), with the same RPN and box head."""
    return {**base, "trunk": [*base["trunk"], c5 if c5 is not None else base["bbox"][0]]}


_A_DSMASK_C5_STAGE: Stage = [
    ("ir_k5", 184, 2, 1, {"expansion": 4}),
    ("ir_k3", 184, 1, 4, {"expansion": 4}),
    ("ir_k5", 200, 1, 1, {"expansion": 6}),
]
"""fbnetv3_a_dsmask_c5's fifth trunk stage: FBNetV3_A's box-head stage without SE."""

_B_LIGHT_NO_SE_C5_STAGE: Stage = [
    ("ir_k3", 184, 2, 1, {"expansion": 6}),
    ("ir_k5", 184, 1, 5, {"expansion": 4}),
    ("ir_k5", 224, 1, 1, {"expansion": 6}),
]
"""fbnetv3_b_light_no_se_c5's fifth trunk stage, which is also its box head."""


@register_arch
def fbnetv3_a() -> ArchSpec:
    return {
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
    }


@register_arch
def fbnetv3_a_c5() -> ArchSpec:
    return with_c5(fbnetv3_a())


@register_arch
def fbnetv3_b() -> ArchSpec:
    return {
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
    }


@register_arch
def fbnetv3_b_c5() -> ArchSpec:
    return with_c5(fbnetv3_b())


@register_arch
def fbnetv3_c() -> ArchSpec:
    return {
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
    }


@register_arch
def fbnetv3_c_c5() -> ArchSpec:
    return with_c5(fbnetv3_c())


@register_arch
def fbnetv3_d() -> ArchSpec:
    return {
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
    }


@register_arch
def fbnetv3_e() -> ArchSpec:
    return {
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
    }


@register_arch
def fbnetv3_f() -> ArchSpec:
    return {
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
    }


@register_arch
def fbnetv3_f_c5() -> ArchSpec:
    return with_c5(fbnetv3_f())


@register_arch
def fbnetv3_g() -> ArchSpec:
    return {
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
    }


@register_arch
def fbnetv3_g_c5() -> ArchSpec:
    return with_c5(fbnetv3_g())


@register_arch
def fbnetv3_h() -> ArchSpec:
    return {
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
    }


@register_arch
def fbnetv3_a_dsmask_c5() -> ArchSpec:
    return with_c5(fbnetv3_a_dsmask(), _A_DSMASK_C5_STAGE)


@register_arch
def fbnetv3_a_dsmask() -> ArchSpec:
    return {
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
    }


@register_arch
def fbnetv3_a_dsmask_tiny() -> ArchSpec:
    return {
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
    }


@register_arch
def fbnetv3_b_light_large_3layers() -> ArchSpec:
    return {
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
    }


@register_arch
def fbnetv3_b_light_large() -> ArchSpec:
    return {
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
    }


@register_arch
def fbnetv3_b_large() -> ArchSpec:
    return {
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
    }


@register_arch
def fbnetv3_b_light_no_se_c5() -> ArchSpec:
    return with_c5({**fbnetv3_b_light_large(), "bbox": [_B_LIGHT_NO_SE_C5_STAGE]})


@register_arch
def fbnetv3_g_fpn() -> ArchSpec:
    return {
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
    }
