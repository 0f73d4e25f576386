"""Normalisation layers selectable by name: BN, GN, SyncBN, naiveSyncBN, FrozenBN.

`NaiveSyncBatchNorm` is hand-written because torch has no equivalent: `nn.SyncBatchNorm` needs
CUDA (or another accelerator) and equal-size participation, while this one all-reduces the
per-process sums with a differentiable all-reduce (works with gloo on CPU) and weights
each process by its own number of samples, so processes may hold different batch sizes or none.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torchvision.ops import FrozenBatchNorm2d

GN_MAX_GROUPS = 32


class _SumAllReduce(torch.autograd.Function):
    """Differentiable all-reduce (sum). Hand-written: `torch.distributed.nn.functional.all_reduce`
    is deprecated in torch 2.14 and its suggested replacement lives in a private module."""

    @staticmethod
    def forward(ctx: object, tensor: Tensor) -> Tensor:  # type: ignore[override]
        output = tensor.clone()
        dist.all_reduce(output)
        return output

    @staticmethod
    def backward(ctx: object, grad: Tensor) -> Tensor:  # type: ignore[override]
        # every process's output is the sum of all inputs, so each input's gradient is the summed gradient
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class NaiveSyncBatchNorm(nn.BatchNorm2d):
    """BatchNorm2d whose training statistics are those of the union batch over all processes."""

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or not dist.is_available() or not dist.is_initialized() or dist.get_world_size() == 1:
            return super().forward(x)
        channels = x.shape[1]
        count = torch.tensor([x.numel() / channels], dtype=x.dtype, device=x.device)
        if x.numel() == 0:
            sums = x.new_zeros(channels)
            squares = x.new_zeros(channels)
        else:
            sums = x.sum(dim=(0, 2, 3))
            squares = (x * x).sum(dim=(0, 2, 3))
        packed = _SumAllReduce.apply(torch.cat([sums, squares, count]))
        total = packed[-1].detach()
        if total.item() == 0:
            return x
        mean = packed[:channels] / total
        var = packed[channels : 2 * channels] / total - mean * mean
        var = var.clamp_min(0.0)
        if self.track_running_stats and self.running_mean is not None and self.running_var is not None:
            momentum = self.momentum if self.momentum is not None else 0.1
            unbiased = var.detach() * (total / (total - 1).clamp_min(1.0))
            self.running_mean.mul_(1 - momentum).add_(mean.detach(), alpha=momentum)
            self.running_var.mul_(1 - momentum).add_(unbiased, alpha=momentum)
            self.num_batches_tracked.add_(1)
        scale = torch.rsqrt(var + self.eps)
        if self.affine:
            scale = scale * self.weight
            shift = self.bias - mean * scale
        else:
            shift = -mean * scale
        return x * scale.view(1, -1, 1, 1) + shift.view(1, -1, 1, 1)


def group_norm(num_channels: int) -> nn.GroupNorm:
    """GroupNorm with the largest group count <= 32 that divides the channels (FBNet widths vary)."""
    return nn.GroupNorm(math.gcd(num_channels, GN_MAX_GROUPS), num_channels)


def get_norm_layer(name: str) -> Callable[[int], nn.Module]:
    """Factory `channels -> module` for a norm name.

    SyncBN builds plain BatchNorm2d here; `convert_sync_batchnorm` swaps it for `nn.SyncBatchNorm`
    once a process group exists (torch's own conversion, same state-dict keys).
    """
    factories: dict[str, Callable[[int], nn.Module]] = {
        "BN": nn.BatchNorm2d,
        "SyncBN": nn.BatchNorm2d,
        "naiveSyncBN": NaiveSyncBatchNorm,
        "GN": group_norm,
        "FrozenBN": FrozenBatchNorm2d,
    }
    if name not in factories:
        raise ValueError(f"unknown norm '{name}'; allowed: {', '.join(factories)}")
    return factories[name]


def convert_sync_batchnorm(module: nn.Module) -> nn.Module:
    """Swap BatchNorm2d (not the naive or frozen kinds) for torch's SyncBatchNorm; needs a process group."""
    return nn.SyncBatchNorm.convert_sync_batchnorm(module)
