"""The d2go <-> FBNetV3OD key mapping: d2go checkpoints name modules `backbone.body.trunk{i}.fbnetv2_{i}_{j}...`
and keep the background as the last class column; ours follow torchvision. Both directions are lossless."""

from __future__ import annotations

import re

import torch
from torch import Tensor, nn

_PREFIX_TO_D2GO: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^backbone\.body\.trunk(\d+)\.(\d+)\."), r"backbone.body.trunk\1.fbnetv2_\1_\2."),
    (re.compile(r"^rpn\.head\.tower\.(\d+)\."), r"proposal_generator.rpn_head.rpn_feature.0.fbnetv2_0_\1."),
    (re.compile(r"^rpn\.head\.(cls_logits|bbox_pred)\."), r"proposal_generator.rpn_head.rpn_regressor.\1."),
    (re.compile(r"^roi_heads\.box_head\.tower\.(\d+)\."), r"roi_heads.box_head.roi_box_conv.0.fbnetv2_0_\1."),
    (re.compile(r"^roi_heads\.box_predictor\."), r"roi_heads.box_predictor."),
]
# Inside a block: torchvision's Conv2dNormActivation children are 0 (conv) and 1 (norm);
# torchvision's SqueezeExcitation has fc1/fc2 where mobile_cv has se.0.conv / se.1.
_SUFFIX_TO_D2GO: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^(pw|dw|pwl)\.0\."), r"\1.conv."),
    (re.compile(r"^(pw|dw|pwl)\.1\."), r"\1.bn."),
    (re.compile(r"^se\.fc1\."), "se.se.0.conv."),
    (re.compile(r"^se\.fc2\."), "se.se.1."),
    (re.compile(r"^0\."), "conv."),
    (re.compile(r"^1\."), "bn."),
]
_PREDICTOR = ("roi_heads.box_predictor.cls_score", "roi_heads.box_predictor.bbox_pred")
D2GO_MARKERS = ("proposal_generator.", "backbone.body.trunk0.fbnetv2_")


def to_d2go_key(key: str) -> str:
    """Map one FBNetV3OD state-dict key to the original d2go name."""
    for pattern, repl in _PREFIX_TO_D2GO:
        match = pattern.match(key)
        if match:
            head = match.expand(repl)
            rest = key[match.end() :]
            for sub_pattern, sub_repl in _SUFFIX_TO_D2GO:
                if sub_pattern.match(rest):
                    rest = sub_pattern.sub(sub_repl, rest, count=1)
                    break
            return head + rest
    return key


def _predictor_to_d2go(key: str, value: Tensor) -> Tensor:
    """Background first -> last for `cls_score`; drop the 4 background rows of `bbox_pred`."""
    if key.startswith(_PREDICTOR[0]):
        return torch.cat([value[1:], value[:1]])
    if key.startswith(_PREDICTOR[1]):
        return value[4:]
    return value


def _predictor_from_d2go(key: str, value: Tensor) -> Tensor:
    """Inverse of `_predictor_to_d2go`; the background box rows are unused by the loss, so zero."""
    if key.startswith(_PREDICTOR[0]):
        return torch.cat([value[-1:], value[:-1]])
    if key.startswith(_PREDICTOR[1]):
        return torch.cat([value.new_zeros((4, *value.shape[1:])), value])
    return value


def to_d2go_state_dict(state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
    """Export our state dict in the original d2go layout (names and predictor layout)."""
    return {to_d2go_key(k): _predictor_to_d2go(k, v) for k, v in state_dict.items()}


def from_d2go_state_dict(d2go_state: dict[str, Tensor], model: nn.Module) -> tuple[dict[str, Tensor], list[str]]:
    """Rename a d2go state dict to the model's keys; returns it and the keys it has no place for."""
    ours_by_d2go = {to_d2go_key(k): k for k in model.state_dict()}
    converted: dict[str, Tensor] = {}
    unused: list[str] = []
    for key, value in d2go_state.items():
        ours = ours_by_d2go.get(key)
        if ours is None:
            unused.append(key)
        else:
            converted[ours] = _predictor_from_d2go(ours, value)
    return converted, unused
