"""FBNetV3OD: C4-style Faster R-CNN on torchvision's `FasterRCNN` with an FBNetV3 trunk.

The trunk runs to its last stage (stride 16 for the C4 archs); the RPN (FBNet IRF tower + 1x1
objectness / deltas) and RoIAlign read that one map; the box head is another FBNet tower followed
by global pooling and torchvision's `FastRCNNPredictor`. Where torchvision's defaults differ from
the original d2go model, small subclasses restore the original conventions (pinned by the
fixtures in `../shared/reference/fixtures`):

* input: torchvision API (RGB in [0, 1]); internally BGR 0-255 minus the pixel mean, std 1;
* anchors: size-major, unrounded, grid offset 0 (torchvision's are ratio-major and rounded);
* RoIAlign: `aligned=True` on the single C4 map (torchvision's `MultiScaleRoIAlign` is unaligned);
* no padding to a multiple of 32 (d2go's size_divisibility 0).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn
from torchvision.models.detection import FasterRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor
from torchvision.models.detection.transform import GeneralizedRCNNTransform, resize_boxes
from torchvision.ops import MultiScaleRoIAlign, roi_align

from core.errors import ConfigError
from detector.config import DetectorConfig, load_config
from detector.modeling.backbones.fbnet import FBNetTrunk, build_tower, parse_detection_arch
from detector.modeling.norms import convert_sync_batchnorm, get_norm_layer


class FBNetC4Backbone(nn.Module):
    """Wraps the trunk as `body` and exposes only its last stage, the single C4 feature map."""

    def __init__(self, trunk: FBNetTrunk) -> None:
        super().__init__()
        self.body = trunk
        self.out_channels = trunk.out_channels
        self.feature_name = f"trunk{len(trunk.stage_channels) - 1}"
        self.stride = trunk.stage_strides[-1]

    def forward(self, x: Tensor) -> dict[str, Tensor]:  # plain dict: TorchScript has no OrderedDict[...] type
        features = self.body(x)
        return {self.feature_name: features[self.feature_name]}


class FBNetRPNHead(nn.Module):
    """d2go's FBNetV2RpnHead: IRF tower, then 1x1 convs for objectness (A) and deltas (4A)."""

    def __init__(self, tower: nn.Module, in_channels: int, num_anchors: int) -> None:
        super().__init__()
        self.tower = tower
        self.cls_logits = nn.Conv2d(in_channels, num_anchors, 1)
        self.bbox_pred = nn.Conv2d(in_channels, num_anchors * 4, 1)
        for layer in (self.cls_logits, self.bbox_pred):
            nn.init.normal_(layer.weight, std=0.01)
            nn.init.constant_(layer.bias, 0.0)

    def forward(self, features: list[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
        towers = [self.tower(f) for f in features]
        return [self.cls_logits(t) for t in towers], [self.bbox_pred(t) for t in towers]


class FBNetBoxHead(nn.Module):
    """d2go's FBNetV2RoIBoxHead: IRF tower on pooled RoIs, global average pool, flatten."""

    def __init__(self, tower: nn.Module, out_channels: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.tower = tower
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.out_channels = out_channels

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.pool(self.tower(x)).flatten(1))


class D2AnchorGenerator(AnchorGenerator):
    """detectron2's DefaultAnchorGenerator cell anchors: size-major, ratio = h/w, not rounded."""

    def generate_anchors(
        self,
        scales: list[int],
        aspect_ratios: list[float],
        dtype: torch.dtype = torch.float32,
        device: torch.device = torch.device("cpu"),
    ) -> Tensor:
        anchors = []
        for size in scales:
            area = float(size) ** 2
            for ratio in aspect_ratios:
                w = math.sqrt(area / ratio)
                h = ratio * w
                anchors.append([-w / 2.0, -h / 2.0, w / 2.0, h / 2.0])
        return torch.tensor(anchors, dtype=dtype, device=device)


class C4RoIAlign(MultiScaleRoIAlign):
    """RoIAlign on the single C4 map with a fixed stride; `aligned` as in detectron2's ROIAlignV2."""

    def __init__(self, featmap_name: str, output_size: int, sampling_ratio: int, stride: int, aligned: bool = True) -> None:
        super().__init__([featmap_name], output_size, sampling_ratio)
        self.spatial_scale = 1.0 / stride
        self.aligned = aligned

    def forward(self, x: dict[str, Tensor], boxes: list[Tensor], image_shapes: list[tuple[int, int]]) -> Tensor:
        return roi_align(
            x[self.featmap_names[0]],
            boxes,
            output_size=self.output_size,
            spatial_scale=self.spatial_scale,
            sampling_ratio=self.sampling_ratio,
            aligned=self.aligned,
        )


class BGRTransform(GeneralizedRCNNTransform):
    """Resize like d2go (sizes rounded), normalise like d2go: RGB [0,1] -> BGR [0,255] - mean, / std.

    Training draws the shorter side from `train_sizes` (scale jitter); evaluation uses `test_size`.
    """

    def __init__(self, train_sizes: tuple[int, ...], test_size: int, max_size: int, mean: list[float], std: list[float]) -> None:
        super().__init__(test_size, max_size, mean, std, size_divisible=1)
        self.train_sizes = tuple(train_sizes)
        self.test_size = test_size
        self.min_size = self.train_sizes if self.training else (test_size,)

    def train(self, mode: bool = True) -> BGRTransform:
        """Switch `min_size` with the mode (a plain attribute, not a property, so TorchScript can compile it)."""
        super().train(mode)
        self.min_size = self.train_sizes if mode else (self.test_size,)
        return self

    def resize(self, image: Tensor, target: dict[str, Tensor] | None = None) -> tuple[Tensor, dict[str, Tensor] | None]:
        """Shorter side to `min_size`, longer side at most `max_size`; sizes rounded as d2go's ResizeShortestEdge.

        torchvision floors `side * scale`, with the scale in float64 eagerly but float32 when scripted or
        traced: the paths disagree by a pixel for about half of all input sizes (and 224 can come out
        223). Rounding is immune to that, so TorchScript/ONNX exports reproduce the eager model.
        """
        h, w = image.shape[-2], image.shape[-1]
        short = self.torch_choice(self.min_size) if self.training else self.min_size[-1]
        if not torch.jit.is_scripting() and torch.jit.is_tracing():  # TorchScript skips this branch
            image = self._resize_traced(image, short)
        else:
            scale = min(short / min(h, w), self.max_size / max(h, w))
            size = [int(h * scale + 0.5), int(w * scale + 0.5)]
            image = nn.functional.interpolate(image[None], size=size, mode="bilinear", align_corners=False)[0]
        if target is not None and "boxes" in target:  # no masks/keypoints in this model
            target["boxes"] = resize_boxes(target["boxes"], [h, w], [image.shape[-2], image.shape[-1]])
        return image, target

    def _resize_traced(self, image: Tensor, short: int) -> Tensor:
        """`resize` for ONNX tracing: the size arithmetic stays in the graph (dynamic input size)."""
        from torch.onnx import operators

        hw = operators.shape_as_tensor(image)[-2:].to(torch.float32)
        scale = torch.min(short / hw.min(), self.max_size / hw.max())
        size = (hw * scale + 0.5).floor().to(torch.int64)
        return nn.functional.interpolate(image[None], size=(size[0], size[1]), mode="bilinear", align_corners=False)[0]

    def normalize(self, image: Tensor) -> Tensor:
        if not image.is_floating_point():
            raise TypeError(f"expected float images in [0, 1], got dtype {image.dtype}")
        mean = torch.as_tensor(self.image_mean, dtype=image.dtype, device=image.device)
        std = torch.as_tensor(self.image_std, dtype=image.dtype, device=image.device)
        bgr255 = image.flip(0) * 255.0
        return (bgr255 - mean[:, None, None]) / std[:, None, None]


class FBNetV3OD(FasterRCNN):
    """Faster R-CNN (C4, no mask head) with an FBNetV3 trunk; behaves like any torchvision detector."""

    def __init__(self, config: DetectorConfig, num_classes: int) -> None:
        m = config.model
        arch = parse_detection_arch(m.arch)
        norm = get_norm_layer(m.norm)
        frozen = get_norm_layer("FrozenBN") if m.norm != "GN" else norm
        stage_norms = [frozen if i < m.freeze_at else norm for i in range(len(arch.trunk))]
        trunk = FBNetTrunk(arch, stage_norms, drop_path_rate=m.drop_path_rate)
        backbone = FBNetC4Backbone(trunk)

        num_anchors = len(m.rpn.anchor_sizes) * len(m.rpn.aspect_ratios)
        rpn_tower, rpn_channels = build_tower(backbone.out_channels, arch.rpn, norm, arch.width_divisor)
        box_tower, box_channels = build_tower(backbone.out_channels, arch.bbox, norm, arch.width_divisor)
        box_head = FBNetBoxHead(box_tower, box_channels, m.box_head_dropout)

        rpn_lower, rpn_upper = m.rpn.iou_thresholds
        roi_lower, roi_upper = m.roi_heads.iou_thresholds
        super().__init__(
            backbone,
            num_classes=None,
            rpn_anchor_generator=D2AnchorGenerator((tuple(m.rpn.anchor_sizes),), (tuple(m.rpn.aspect_ratios),)),
            rpn_head=FBNetRPNHead(rpn_tower, rpn_channels, num_anchors),
            rpn_pre_nms_top_n_train=m.rpn.pre_nms_topk_train,
            rpn_pre_nms_top_n_test=m.rpn.pre_nms_topk_test,
            rpn_post_nms_top_n_train=m.rpn.post_nms_topk_train,
            rpn_post_nms_top_n_test=m.rpn.post_nms_topk_test,
            rpn_nms_thresh=m.rpn.nms_thresh,
            rpn_fg_iou_thresh=rpn_upper,
            rpn_bg_iou_thresh=rpn_lower,
            rpn_batch_size_per_image=m.rpn.batch_size_per_image,
            rpn_positive_fraction=m.rpn.positive_fraction,
            box_roi_pool=C4RoIAlign(
                backbone.feature_name, m.pooler_resolution, m.pooler_sampling_ratio, backbone.stride, m.pooler_aligned
            ),
            box_head=box_head,
            box_predictor=FastRCNNPredictor(box_channels, num_classes + 1),
            box_score_thresh=m.roi_heads.score_thresh,
            box_nms_thresh=m.roi_heads.nms_thresh,
            box_detections_per_img=m.roi_heads.detections_per_img,
            box_fg_iou_thresh=roi_upper,
            box_bg_iou_thresh=roi_lower,
            box_batch_size_per_image=m.roi_heads.batch_size_per_image,
            box_positive_fraction=m.roi_heads.positive_fraction,
            bbox_reg_weights=m.roi_heads.bbox_reg_weights,
        )
        self.transform = BGRTransform(
            config.input.train_sizes, config.input.min_size, config.input.max_size, list(m.pixel_mean), list(m.pixel_std)
        )
        self.config = config
        self.num_classes = num_classes
        self.freeze_at = m.freeze_at
        for i in range(m.freeze_at):
            getattr(trunk, f"trunk{i}").requires_grad_(False)

    def train(self, mode: bool = True) -> FBNetV3OD:
        """Frozen stages stay in eval mode (no dropout/BN updates) whatever the model's mode."""
        super().train(mode)
        for i in range(self.freeze_at):
            getattr(self.backbone.body, f"trunk{i}").eval()
        return self


def build_detector(config: Any = None, *, num_classes: int | None = None, load_weights: bool = True) -> FBNetV3OD:
    """Build FBNetV3OD from a config (path, dict or `DetectorConfig`) and load `model.weights`.

    `num_classes` (foreground classes) overrides the config, e.g. when it comes from the data set.
    """
    from detector.weights.inherit import inherit_from
    from detector.weights.loading import load_weights as load

    config = load_config(config)
    if num_classes:
        config = config.with_num_classes(num_classes)
    classes = config.model.num_classes
    if classes is None:
        raise ConfigError("model.num_classes: not set and no data set given to take it from")
    model = FBNetV3OD(config, classes)
    if load_weights and config.model.weights and config.model.weights_fit == "inherit":
        inherit_from(model, config.model.arch, config.model.weights)
    elif load_weights and config.model.weights:
        load(model, config.model.weights)
    if config.model.norm == "SyncBN" and torch.distributed.is_available() and torch.distributed.is_initialized():
        model = convert_sync_batchnorm(model)
    return model
