"""Every registered FBNetV3 arch has the original parameter count and FLOPs (reference facts)."""

from __future__ import annotations

import pytest
import torch
import yaml
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from detector.modeling.backbones import registry
from detector.modeling.backbones.fbnet import FBNetTrunk, build_tower, parse_detection_arch, round_channels
from detector.modeling.backbones.registry import list_archs, register_arch
from detector.modeling.backbones.spec import BlockSpec, parse_block
from detector.modeling.model import build_detector
from helpers.fbnet_classification import build_fbnet_classifier


def _flops(module: nn.Module, x: torch.Tensor) -> int:
    module.eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        module(x)
    return counter.get_total_flops()


def _params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.fixture(scope="module")
def reference(reference_dir):
    return yaml.safe_load((reference_dir / "fbnetv3_archs.yaml").read_text())


def test_every_d2go_detection_arch_is_registered(reference):
    names = {n.lower() for n in reference["detection_d2go"]["archs"]}
    assert names == set(list_archs())
    assert {"fbnetv3_a_dsmask", "fbnetv3_a", "fbnetv3_h", "fbnetv3_a_dsmask_tiny"} <= names


@pytest.mark.parametrize("name", list_archs())
def test_detection_trunk_and_towers_match_reference(reference, name):
    entry = {n.lower(): a for n, a in reference["detection_d2go"]["archs"].items()}[name]
    arch = parse_detection_arch(name)
    trunk = FBNetTrunk(arch, nn.BatchNorm2d)
    expected = entry["instantiated_trunk"]
    assert _params(trunk) == expected["params"]
    assert _flops(trunk, torch.zeros(1, 3, 224, 320)) == expected["flops_2xmacs_at_1x3x224x320"]
    assert [[c, s] for c, s in zip(trunk.stage_channels, trunk.stage_strides)] == expected["stage_out_channels_and_stride"]
    towers = entry["instantiated_towers"]
    for part, blocks in (("rpn", arch.rpn), ("bbox", arch.bbox)):
        tower, out = build_tower(towers[part]["in_ch_assumed"], blocks, nn.BatchNorm2d)
        assert _params(tower) == towers[part]["params"], part
        assert out == towers[part]["out_ch"], part
        assert len(tower) == towers[part]["blocks"], part


@pytest.mark.parametrize("letter", "abcdefg")
def test_imagenet_classifiers_match_reference(reference, letter):
    entry = reference["classification"][f"FBNetV3_{letter.upper()}"]
    model = build_fbnet_classifier(f"fbnetv3_{letter}_cls")
    size = entry["input_size"]
    assert _params(model) == entry["instantiated"]["params_total"]
    assert _flops(model, torch.zeros(1, 3, size, size)) == entry["instantiated"]["flops_2xmacs"]
    assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 1000)


def test_block_blueprint_matches_instantiated_c4_detector(reference):
    """Block by block (channels, kernel, stride, SE width, residual) for d2go's FBNetV3_A C4."""
    blocks = reference["instantiated_c4_detectors"]["faster_rcnn_fbnetv3a_C4"]["trunk_blocks"]
    trunk = FBNetTrunk(parse_detection_arch("fbnetv3_a"), nn.BatchNorm2d)
    ours = [m for stage in trunk.children() for m in stage.children()]
    assert len(ours) == len(blocks)
    for module, ref in zip(ours[1:], blocks[1:]):
        assert module.dw[0].in_channels == ref["mid_ch"] and module.out_channels == ref["out_ch"], ref["name"]
        assert module.dw[0].kernel_size == (ref["kernel"], ref["kernel"]) and module.dw[0].stride[0] == ref["stride"]
        assert (module.pw is not None) == ref["has_pw"] and module.use_residual == ref["residual"]
        assert len(module.dw) == 1, "d2go's depthwise conv has no norm and no activation"
        assert (module.se.fc1.out_channels if module.se is not None else None) == ref.get("se_mid")


def test_round_channels_follows_mobile_cv():
    assert round_channels(84, 8) == 88  # half rounds up (torchvision's helper gives 80)
    assert round_channels(276, 8) == 280
    assert round_channels(16, 8) == 16
    assert round_channels(3, 8) == 8


def _fields(block: BlockSpec) -> tuple:
    return (block.kind, block.channels, block.stride, block.repeats, block.kernel, block.expansion, block.se, block.se_gate,
            block.activation)


@pytest.mark.parametrize(
    "raw, fields",
    [
        (("ir_k5_sehsig_hs", 40, 2, 3, {"expansion": 4}), ("ir", 40, 2, 3, 5, 4, True, "hsigmoid", "hswish")),
        ({"kind": "ir", "channels": 40, "stride": 2, "repeats": 3, "kernel": 5, "expansion": 4, "se": True, "se_gate": "hsigmoid",
          "activation": "hswish"}, ("ir", 40, 2, 3, 5, 4, True, "hsigmoid", "hswish")),
        (("ir_k3", 24, 1, 2), ("ir", 24, 1, 2, 3, 1.0, False, "sigmoid", "relu")),
        (("ir_k7_se", 32, 2, 1, {"expansion": 6}), ("ir", 32, 2, 1, 7, 6, True, "sigmoid", "relu")),
        (("ir_k5_hs", 48, 1, 4, {"expansion": 2.5}), ("ir", 48, 1, 4, 5, 2.5, False, "sigmoid", "hswish")),
        (("conv_k3_hs", 16, 2, 1), ("conv", 16, 2, 1, 3, 1.0, False, "sigmoid", "hswish")),
        (("ir_pool_hs", 1984, 1, 1, {"expansion": 6}), ("ir_pool", 1984, 1, 1, 3, 6, False, "sigmoid", "hswish")),
    ],
    ids=["tuple", "dict", "ir_k3", "ir_k7_se", "ir_k5_hs", "conv_k3_hs", "ir_pool_hs"],
)
def test_block_forms_parse_to_the_fields_they_spell(raw, fields):
    """d2go's kind string packs kernel, SE, its gate and the activation; each must reach its field (and the dict
    form, which the search space writes, gives the same block as the string that spells it)."""
    assert _fields(parse_block(raw)) == fields


@pytest.mark.parametrize(
    "raw, message",
    [
        (("ir_k4_se", 16, 1, 1), "odd"),
        (("ir_x3", 16, 1, 1), "unknown block kind"),
        (("ir_k3", 16, 3, 1), "stride must be 1 or 2"),
        (("ir_k3", 16, 1, 1, {"expand": 2}), "unknown block options"),
        ({"kind": "ir", "channels": 0}, "channels must be >= 1"),
        ("ir_k3", "a block is"),
    ],
)
def test_bad_block_specs_are_named(raw, message):
    with pytest.raises(ValueError, match=message):
        parse_block(raw)


def test_unknown_arch_suggests_the_closest():
    with pytest.raises(ValueError, match="did you mean 'fbnetv3_a_dsmask'"):
        parse_detection_arch("fbnetv3_a_dsmsk")


def test_an_arch_registers_by_function_name_and_builds_from_the_config(monkeypatch):
    monkeypatch.setattr(registry, "_ARCHS", dict(registry._ARCHS))  # the registration ends with this test

    @register_arch
    def tiny_test_arch() -> dict:
        return {"trunk": [[("conv_k3", 8, 2, 1)], [("ir_k3", 16, 2, 1)]], "rpn": [("ir_k3", 16, 1, 1)], "bbox": [("ir_k3", 24, 2, 1)]}

    assert "tiny_test_arch" in list_archs()
    arch = parse_detection_arch("tiny_test_arch")
    assert [[_fields(b) for b in stage] for stage in arch.trunk] == [[("conv", 8, 2, 1, 3, 1.0, False, "sigmoid", "relu")],
                                                                   [("ir", 16, 2, 1, 3, 1.0, False, "sigmoid", "relu")]]
    assert [_fields(b) for b in (*arch.rpn, *arch.bbox)] == [("ir", 16, 1, 1, 3, 1.0, False, "sigmoid", "relu"),
                                                             ("ir", 24, 2, 1, 3, 1.0, False, "sigmoid", "relu")]
    detector = build_detector({"model": {"arch": "tiny_test_arch", "weights": None, "freeze_at": 0}}, num_classes=2)
    trunk = detector.backbone.body
    assert (trunk.stage_channels, trunk.stage_strides, detector.backbone.out_channels) == ([8, 16], [2, 4], 16)
    assert (trunk.trunk0[0][0].out_channels, trunk.trunk0[0][0].stride) == (8, (2, 2))
    assert (trunk.trunk1[0].dw[0].kernel_size, trunk.trunk1[0].dw[0].stride) == ((3, 3), (2, 2))
    with pytest.raises(ValueError, match="registered twice"):
        register_arch(tiny_test_arch)


def test_c5_archs_are_their_base_with_a_fifth_stage():
    for name in ("fbnetv3_a", "fbnetv3_b", "fbnetv3_c", "fbnetv3_f", "fbnetv3_g", "fbnetv3_a_dsmask"):
        base, c5 = parse_detection_arch(name), parse_detection_arch(f"{name}_c5")
        assert c5.trunk[:4] == base.trunk and len(c5.trunk) == 5 and (c5.rpn, c5.bbox) == (base.rpn, base.bbox)
