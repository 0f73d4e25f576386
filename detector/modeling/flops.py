"""Exact FLOPs and parameters of an FBNetV3OD config, summed over memoized parts.

Counting a whole detector under `FlopCounterMode` takes about 0.25 s even on the meta device
(every op goes through Python dispatch and decompositions), which would cap the final
evolutionary search at a few thousand constraint checks per minute. A detector's count is the sum
of its parts: each trunk and tower block on its input shape, the RPN's 1x1 convs on the C4 map and
the box predictor on the RoIs (the anchor generator, RoIAlign and pooling have no weights and no
conv/linear FLOPs). Each part is built by the model's own builders and counted once, then
memoized; a mutated architecture shares almost every block with its parent, so a new one costs
about a millisecond. `tests/search_spaces/test_search_spaces.py` pins the sum to the whole-model count.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode, conv_flop_count
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor
from torchvision.ops import SqueezeExcitation

from detector.config import DetectorConfig
from detector.modeling.backbones.fbnet import build_block, expand_repeats, parse_detection_arch
from detector.modeling.backbones.spec import BlockSpec
from detector.modeling.model import FBNetRPNHead
from detector.modeling.norms import get_norm_layer

Shape = tuple[int, ...]


class PartCosts:
    """Memoized (FLOPs, params, output shape) of detector parts; `detector(spec)` sums them."""

    def __init__(self) -> None:
        self._memo: dict[Hashable, tuple[int, int, Shape]] = {}

    def __len__(self) -> int:
        return len(self._memo)

    def _count(self, key: Hashable, build: Callable[[], nn.Module], shape: Shape,
               run: Callable[[nn.Module, Tensor], Tensor] = lambda module, x: module(x)) -> tuple[int, int, Shape]:
        hit = self._memo.get(key)
        if hit is None:
            with torch.device("meta"):
                module = build().eval()
            with torch.inference_mode(), FlopCounterMode(display=False) as counter:
                out = run(module, torch.zeros(shape, device="meta"))
            hit = (int(counter.get_total_flops()), sum(p.numel() for p in module.parameters()), tuple(out.shape))
            self._memo[key] = hit
        return hit

    def stage(self, blocks: list[BlockSpec], shape: Shape, norm: str, width_divisor: int) -> tuple[int, int, Shape]:
        """A stage (or tower) of blocks on a batch-1 input of `shape`."""
        flops = params = 0
        norm_layer = get_norm_layer(norm)
        for spec, stride in expand_repeats(blocks):
            key = ("block", spec, stride, shape, norm, width_divisor)
            hit = self._memo.get(key)
            if hit is None:
                with torch.device("meta"):
                    block, channels = build_block(shape[1], spec, stride, norm_layer, width_divisor=width_divisor)
                f, (height, width) = _walk_convs(block, shape[2], shape[3])
                hit = self._memo[key] = (f, sum(p.numel() for p in block.parameters()), (1, channels, height, width))
            flops, params, shape = flops + hit[0], params + hit[1], hit[2]
        return flops, params, shape

    def detector(self, config: DetectorConfig) -> tuple[int, int]:
        """FLOPs and params of the eval model of `config` (a `CostSpec.config()`: num_classes is set)."""
        m = config.model
        arch = parse_detection_arch(m.arch)
        norm, divisor = m.norm, arch.width_divisor
        flops = params = 0
        shape: Shape = (1, 3, config.input.min_size, config.input.max_size)
        for stage in arch.trunk:
            f, p, shape = self.stage(stage, shape, norm, divisor)
            flops, params = flops + f, params + p

        f, p, rpn_shape = self.stage(arch.rpn, shape, norm, divisor)
        anchors = len(m.rpn.anchor_sizes) * len(m.rpn.aspect_ratios)
        f_head, p_head, _ = self._count(
            ("rpn_head", rpn_shape, anchors), lambda: FBNetRPNHead(nn.Identity(), rpn_shape[1], anchors), rpn_shape,
            run=lambda head, x: head([x])[0][0],
        )
        flops, params = flops + f + f_head, params + p + p_head

        rois, resolution = m.rpn.post_nms_topk_test, m.pooler_resolution
        f, p, box_shape = self.stage(arch.bbox, (1, shape[1], resolution, resolution), norm, divisor)
        classes = int(m.num_classes) + 1  # type: ignore[arg-type]
        f_pred, p_pred, _ = self._count(
            ("predictor", box_shape[1], classes, rois), lambda: FastRCNNPredictor(box_shape[1], classes), (rois, box_shape[1]),
            run=lambda predictor, x: predictor(x)[0],
        )
        # conv and linear FLOPs grow linearly with the batch: the box tower runs on every RoI
        return flops + rois * f + f_pred, params + p + p_pred


def _walk_convs(module: nn.Module, height: int, width: int) -> tuple[int, tuple[int, int]]:
    """Conv FLOPs of a batch-1 block on a `height` x `width` input, and its output size."""
    if isinstance(module, nn.Conv2d):
        (kh, kw), (sh, sw), (dh, dw) = module.kernel_size, module.stride, module.dilation
        ph, pw = module.padding  # FBNet blocks only use explicit integer padding
        out_h, out_w = (height + 2 * ph - dh * (kh - 1) - 1) // sh + 1, (width + 2 * pw - dw * (kw - 1) - 1) // sw + 1
        flops = conv_flop_count([1, module.in_channels // module.groups, height, width], list(module.weight.shape), [1, module.out_channels, out_h, out_w])
        return flops, (out_h, out_w)
    if isinstance(module, nn.AdaptiveAvgPool2d):
        size = module.output_size
        return 0, (size, size) if isinstance(size, int) else tuple(size)  # type: ignore[return-value]
    if isinstance(module, nn.Linear):
        raise TypeError("blocks are convolutional; linear layers are counted by FlopCounterMode")
    flops, size = 0, (height, width)
    for child in module.children():
        f, size = _walk_convs(child, *size)
        flops += f
    # squeeze-excitation gates its input: the block keeps the size that entered it
    return flops, (height, width) if isinstance(module, SqueezeExcitation) else size
