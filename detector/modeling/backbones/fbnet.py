"""FBNetV3 building blocks and builders, on torchvision's `Conv2dNormActivation`,
`SqueezeExcitation` and `StochasticDepth`.

Channel rounding, SE widths and block structure follow mobile_cv's FBNet builder so that every
registered arch has exactly the original parameter count and FLOPs (pinned by tests against
`../shared/reference/fbnetv3_archs.yaml`). Named archs come from `detector.modeling.backbones.registry`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from torch import Tensor, nn
from torchvision.ops import Conv2dNormActivation, SqueezeExcitation, StochasticDepth

from detector.modeling.backbones.registry import arch_spec
from detector.modeling.backbones.spec import BlockSpec, DetectionArch, parse_detection_spec

NormFactory = Callable[[int], nn.Module]

_ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "hswish": nn.Hardswish}
_GATES: dict[str, type[nn.Module]] = {"sigmoid": nn.Sigmoid, "hsigmoid": nn.Hardsigmoid}


def round_channels(value: float, divisor: int) -> int:
    """mobile_cv's `get_divisible_by`: nearest multiple (half up), never more than 5% below `value`.

    Not torchvision's `_make_divisible`: that one rounds half down and uses a 10% margin, which
    gives different widths (e.g. 84 -> 80 instead of 88) and so different parameter counts.
    """
    if divisor <= 0 or value % divisor == 0:
        return max(int(value), divisor)
    rounded = max(int(value / divisor + 0.5), 1) * divisor
    if rounded < 0.95 * value:
        rounded += divisor
    return max(rounded, divisor)


class IRFBlock(nn.Module):
    """Inverted residual block: 1x1 expand -> kxk depthwise -> optional SE -> 1x1 project (+ input)."""

    def __init__(
        self,
        in_channels: int,
        spec: BlockSpec,
        stride: int,
        norm_layer: NormFactory,
        *,
        width_divisor: int = 8,
        dw_norm_act: bool = False,
        less_se_channels: bool = False,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        act = _ACTIVATIONS[spec.activation]
        mid = round_channels(in_channels * spec.expansion, width_divisor)
        out = round_channels(spec.channels, width_divisor)
        self.pw = (
            Conv2dNormActivation(in_channels, mid, 1, norm_layer=norm_layer, activation_layer=act) if mid != in_channels else None
        )
        groups = mid // spec.dw_group_ratio if spec.dw_group_ratio else mid
        padding = spec.dw_padding if spec.dw_padding is not None else spec.kernel // 2
        self.dw = Conv2dNormActivation(
            mid,
            mid,
            spec.kernel,
            stride=stride,
            padding=padding,
            groups=groups,
            norm_layer=norm_layer if dw_norm_act else None,
            activation_layer=act if dw_norm_act else None,
            bias=False,
        )
        if spec.se:
            se_in = mid / spec.expansion if less_se_channels else mid
            se_mid = round_channels(int(se_in * 0.25), 8)
            self.se = SqueezeExcitation(mid, se_mid, activation=act, scale_activation=_GATES[spec.se_gate])
        else:
            self.se = None
        self.pwl = Conv2dNormActivation(mid, out, 1, norm_layer=norm_layer, activation_layer=None)
        self.use_residual = in_channels == out and stride == 1
        self.drop_path = StochasticDepth(drop_path, "row") if self.use_residual and drop_path > 0 else nn.Identity()
        self.out_channels = out

    def forward(self, x: Tensor) -> Tensor:
        y = self.pw(x) if self.pw is not None else x
        y = self.dw(y)
        if self.se is not None:
            y = self.se(y)
        y = self.pwl(y)
        return x + self.drop_path(y) if self.use_residual else y


class IRPoolBlock(nn.Module):
    """Classification tail: 1x1 conv+norm+act, global pool, 1x1 conv+act (no norm)."""

    def __init__(self, in_channels: int, spec: BlockSpec, norm_layer: NormFactory, *, width_divisor: int = 8) -> None:
        super().__init__()
        act = _ACTIVATIONS[spec.activation]
        mid = round_channels(in_channels * spec.expansion, width_divisor)
        self.out_channels = round_channels(spec.channels, width_divisor)
        self.pw = Conv2dNormActivation(in_channels, mid, 1, norm_layer=norm_layer, activation_layer=act)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.pwl = Conv2dNormActivation(mid, self.out_channels, 1, norm_layer=None, activation_layer=act, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.pwl(self.pool(self.pw(x)))


def expand_repeats(blocks: list[BlockSpec]) -> Iterator[tuple[BlockSpec, int]]:
    """Every repeat of every block with its stride (only a block's first repeat strides)."""
    for spec in blocks:
        for i in range(spec.repeats):
            yield spec, spec.stride if i == 0 else 1


def build_block(
    channels: int,
    spec: BlockSpec,
    stride: int,
    norm_layer: NormFactory,
    *,
    width_divisor: int = 8,
    dw_norm_act: bool = False,
    less_se_channels: bool = False,
    drop_path: float = 0.0,
) -> tuple[nn.Module, int]:
    """One repeat of a block on `channels` inputs; returns it with its output channels."""
    if spec.kind == "conv":
        out = round_channels(spec.channels, width_divisor)
        act = _ACTIVATIONS[spec.activation]
        layer = Conv2dNormActivation(channels, out, spec.kernel, stride=stride, norm_layer=norm_layer, activation_layer=act, bias=True)
        return layer, out
    if spec.kind == "ir_pool":
        pool = IRPoolBlock(channels, spec, norm_layer, width_divisor=width_divisor)
        return pool, pool.out_channels
    block = IRFBlock(
        channels,
        spec,
        stride,
        norm_layer,
        width_divisor=width_divisor,
        dw_norm_act=dw_norm_act,
        less_se_channels=less_se_channels,
        drop_path=drop_path,
    )
    return block, block.out_channels


def build_stage(
    in_channels: int,
    blocks: list[BlockSpec],
    norm_layer: NormFactory,
    *,
    width_divisor: int = 8,
    dw_norm_act: bool = False,
    less_se_channels: bool = False,
    drop_path: Callable[[], float] = lambda: 0.0,
) -> tuple[nn.Sequential, int]:
    """Expand repeats into an `nn.Sequential` of blocks; return it with its output channels."""
    layers: list[nn.Module] = []
    channels = in_channels
    for spec, stride in expand_repeats(blocks):
        layer, channels = build_block(
            channels,
            spec,
            stride,
            norm_layer,
            width_divisor=width_divisor,
            dw_norm_act=dw_norm_act,
            less_se_channels=less_se_channels,
            drop_path=drop_path() if spec.kind == "ir" else 0.0,
        )
        layers.append(layer)
    return nn.Sequential(*layers), channels


def _drop_path_schedule(rate: float, total_blocks: int) -> Callable[[], float]:
    """Linearly increasing stochastic-depth rate over the blocks, as in EfficientNet/torchvision."""
    counter = iter(range(total_blocks + 1))
    return lambda: rate * next(counter) / max(total_blocks, 1)


class FBNetTrunk(nn.Module):
    """Detection trunk: stages `trunk0..trunkN`; `forward` returns every stage's output by name."""

    def __init__(self, arch: DetectionArch, norm_layer: NormFactory | list[NormFactory], drop_path_rate: float = 0.0) -> None:
        super().__init__()
        norms = norm_layer if isinstance(norm_layer, list) else [norm_layer] * len(arch.trunk)
        total = sum(b.repeats for stage in arch.trunk for b in stage if b.kind == "ir")
        drop = _drop_path_schedule(drop_path_rate, total)
        channels = 3
        self.stage_channels: list[int] = []
        self.stage_strides = arch.stage_strides
        for i, (stage, norm) in enumerate(zip(arch.trunk, norms)):
            module, channels = build_stage(channels, stage, norm, width_divisor=arch.width_divisor, drop_path=drop)
            self.add_module(f"trunk{i}", module)
            self.stage_channels.append(channels)
        self.out_channels = channels

    def forward(self, x: Tensor) -> dict[str, Tensor]:  # plain (ordered) dict: TorchScript has no OrderedDict[...] type
        outputs: dict[str, Tensor] = {}
        for name, stage in self.named_children():
            x = stage(x)
            outputs[name] = x
        return outputs


# ---------------------------------------------------------------- archs by name


def parse_detection_arch(arch: str | dict[str, Any] | DetectionArch) -> DetectionArch:
    """Resolve a registered name or an inline spec dict into a `DetectionArch` (ValueError if invalid)."""
    if isinstance(arch, DetectionArch):
        return arch
    if isinstance(arch, str):
        arch = arch_spec(arch)
    if not isinstance(arch, dict):
        raise ValueError(f"arch must be a registered name or a mapping with trunk/rpn/bbox, got {type(arch).__name__}")
    return parse_detection_spec(arch)


def build_tower(in_channels: int, blocks: list[BlockSpec], norm_layer: NormFactory, width_divisor: int = 8) -> tuple[nn.Sequential, int]:
    """RPN / box-head tower: one stage of d2go-style IRF blocks."""
    return build_stage(in_channels, blocks, norm_layer, width_divisor=width_divisor)

