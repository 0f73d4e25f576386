"""An inference copy of a detector: batch norm folded into the convolutions, channels-last memory.

Eager PyTorch runs eval-mode batch norm as its own op after every convolution, and by default
keeps activations in NCHW, where oneDNN's depthwise and 1x1 convolutions (most of FBNet) are
slower than in NHWC. Both changes are exact up to float rounding. On the CPU they took
FBNetV3OD a_dsmask from 0.7x to about 0.4x the latency of torchvision's
`fasterrcnn_mobilenet_v3_large_320_fpn` (BENCHMARKS.md, "Detector speed"); d2go does the same
before deployment (`fuse_utils`). Used by `detector.predict` and `detector.evaluate`.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_weights
from torchvision.ops import FrozenBatchNorm2d


def _foldable(conv: nn.Module, norm: nn.Module) -> bool:
    if not isinstance(conv, nn.Conv2d):
        return False
    if isinstance(norm, FrozenBatchNorm2d):
        return norm.running_mean.shape[0] == conv.out_channels
    return isinstance(norm, nn.modules.batchnorm._BatchNorm) and norm.track_running_stats and norm.running_mean is not None


def _fold(conv: nn.Conv2d, norm: nn.Module) -> nn.Conv2d:
    """A new convolution computing `norm(conv(x))` with `norm`'s running statistics (torch's own fusion math)."""
    fused = copy.deepcopy(conv)
    weight, bias = fuse_conv_bn_weights(conv.weight, conv.bias, norm.running_mean, norm.running_var, norm.eps, norm.weight, norm.bias)
    fused.weight, fused.bias = weight, bias
    return fused


def fold_batchnorm(module: nn.Module) -> int:
    """Fold every batch norm that directly follows a convolution in a `nn.Sequential` (torchvision's
    `Conv2dNormActivation`, which all FBNet blocks use) into that convolution, in place.

    Only for eval mode: the folded model no longer updates or uses batch statistics. Group norm
    cannot be folded and stays. Returns the number of folded pairs.
    """
    folded = 0
    for sequence in module.modules():
        if not isinstance(sequence, nn.Sequential):
            continue
        for i in range(len(sequence) - 1):
            conv, norm = sequence[i], sequence[i + 1]
            if _foldable(conv, norm):
                sequence[i] = _fold(conv, norm)
                sequence[i + 1] = nn.Identity()
                folded += 1
    return folded


def optimize_for_inference(detector: nn.Module) -> nn.Module:
    """An eval-mode copy of `detector` (the original is untouched) with batch norm folded and
    channels-last weights, so that convolutions pick NHWC kernels."""
    model = copy.deepcopy(detector).eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    fold_batchnorm(model)
    return model.to(memory_format=torch.channels_last)
