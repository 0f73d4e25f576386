"""detector.modeling.inference: the folded, channels-last copy computes what the original computes."""

from __future__ import annotations

import pytest
import torch
from scipy.optimize import linear_sum_assignment
from torch import nn
from torchvision.ops import FrozenBatchNorm2d

from detector.modeling.inference import fold_batchnorm, optimize_for_inference
from detector.modeling.model import build_detector


def _randomise_statistics(model: nn.Module, seed: int) -> None:
    """Random weights leave BN at mean 0 / var 1 (folding would be trivial): give every norm real statistics."""
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, (nn.modules.batchnorm._BatchNorm, FrozenBatchNorm2d)):
            n = module.running_mean.shape[0]
            module.running_mean.copy_(torch.randn(n, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
            if module.weight is not None:
                module.weight.data.copy_(torch.rand(n, generator=generator) + 0.5)
                module.bias.data.copy_(torch.randn(n, generator=generator) * 0.1)


def _first_map(features: torch.Tensor | dict[str, torch.Tensor]) -> torch.Tensor:
    return next(iter(features.values())) if isinstance(features, dict) else features


def _assert_same_detections(got: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> None:
    """The same detections up to float rounding, paired by label and box rather than by position: a random model
    scores its boxes almost alike (neighbouring scores 3e-7 apart), as close as folding moves a score, so two
    detections may swap places in the score order. Same-class boxes overlap by less than the NMS threshold, so
    the closest box of the same label is the same detection."""
    assert len(got["boxes"]) == len(expected["boxes"])
    cost = (got["boxes"][:, None, :] - expected["boxes"][None, :, :]).abs().amax(-1)
    cost[got["labels"][:, None] != expected["labels"][None, :]] = 1e9  # another class is never the same detection
    rows, cols = (torch.as_tensor(i) for i in linear_sum_assignment(cost.numpy()))
    assert torch.equal(got["labels"][rows], expected["labels"][cols])
    torch.testing.assert_close(got["boxes"][rows], expected["boxes"][cols], rtol=1e-3, atol=1e-2)
    torch.testing.assert_close(got["scores"][rows], expected["scores"][cols], rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("norm", ["BN", "naiveSyncBN", "FrozenBN", "GN"])
def test_optimized_copy_matches_the_original(norm):
    torch.manual_seed(0)
    config = {"model": {"arch": "fbnetv3_a_dsmask", "weights": None, "freeze_at": 0, "norm": norm,
                        "roi_heads": {"score_thresh": 0.0}, "rpn": {"post_nms_topk_test": 50}},
              "input": {"min_size": 160, "max_size": 224}}
    detector = build_detector(config, num_classes=3)
    with torch.no_grad():
        _randomise_statistics(detector, seed=1)
    detector.eval()
    norms_before = sum(isinstance(m, (nn.modules.batchnorm._BatchNorm, FrozenBatchNorm2d)) for m in detector.modules())
    optimized = optimize_for_inference(detector)

    remaining = [m for m in optimized.modules() if isinstance(m, (nn.modules.batchnorm._BatchNorm, FrozenBatchNorm2d))]
    if norm == "GN":
        assert norms_before == 0 and not remaining
    else:
        assert norms_before > 40 and remaining == [], "every batch norm is folded"
    assert not optimized.training and not any(p.requires_grad for p in optimized.parameters())
    conv = next(m for m in optimized.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert sum(isinstance(m, (nn.modules.batchnorm._BatchNorm, FrozenBatchNorm2d)) for m in detector.modules()) == norms_before, \
        "the original is untouched"

    image = torch.rand(3, 180, 230, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        features, expected = detector.backbone(image[None]), detector([image])[0]
        got_features, got = optimized.backbone(image[None]), optimized([image])[0]
    torch.testing.assert_close(_first_map(got_features), _first_map(features), rtol=1e-4, atol=1e-4)
    assert len(expected["boxes"]) > 10
    _assert_same_detections(got, expected)


def test_fold_leaves_convolutions_without_a_following_norm_alone():
    torch.manual_seed(0)
    block = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 1), nn.BatchNorm2d(4), nn.Conv2d(4, 4, 1)).eval()
    with torch.no_grad():
        _randomise_statistics(block, seed=0)
    x = torch.rand(2, 3, 8, 8)
    expected = block(x)
    assert fold_batchnorm(block) == 1
    assert isinstance(block[3], nn.Identity) and block[0].bias is not None
    torch.testing.assert_close(block(x), expected, rtol=1e-5, atol=1e-5)
