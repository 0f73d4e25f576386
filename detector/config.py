"""One typed config holding every knob of FBNetV3OD, loadable from and dumpable to YAML.

Defaults follow d2go's `faster_rcnn_fbnetv3a_dsmask_C4.yaml` (the hosted playground's FBNetV3OD).
Validation errors name the key and the allowed range in one line (`ConfigError`); unknown keys get a
"did you mean" suggestion. The dumped config sits next to every run so that it is reproducible.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from core.atomic import atomic_write_text
from core.errors import ConfigError
from core.schema import Section, format_validation_error
from core.yaml_io import read_yaml

DEFAULT_WEIGHTS = "FBNetV3a-DSMask-C4 COCO"
COST = {"cost": True}
"""`json_schema_extra` of a field that changes the deployed model's FLOPs, params or latency: the fields
`search_spaces.fbnetv3.cost_spec.CostSpec` is made of (add it to a new knob that does)."""


def _check_iou_pair(value: tuple[float, float]) -> tuple[float, float]:
    lower, upper = value
    if not (0.0 <= lower <= 1.0 and 0.0 <= upper <= 1.0):
        raise ValueError(f"IoU thresholds must lie in [0, 1], got [{lower}, {upper}]")
    if lower > upper:
        raise ValueError(f"lower bound {lower} must be <= upper bound {upper}")
    return value


class RPNConfig(Section):
    """Region proposal network; IoU below lower = background, above upper = object, between = ignored."""

    iou_thresholds: tuple[float, float] = Field(
        (0.3, 0.7),
        description=(
            "[lower, upper] IoU of an anchor with the boxes, each in [0, 1], lower <= upper: below lower = background, above upper = "
            "object, between = ignored"
        ),
    )
    pre_nms_topk_train: int = Field(2000, ge=1, description="proposals kept before NMS in training")
    post_nms_topk_train: int = Field(2000, ge=1, description="proposals kept after NMS in training")
    pre_nms_topk_test: int = Field(1000, ge=1, json_schema_extra=COST, description="proposals kept before NMS at test time")
    post_nms_topk_test: int = Field(30, ge=1, json_schema_extra=COST, description="proposals kept after NMS at test time")
    nms_thresh: float = Field(0.7, gt=0.0, le=1.0, json_schema_extra=COST, description="IoU threshold of the RPN's NMS")
    batch_size_per_image: int = Field(256, ge=1, description="anchors sampled per image for the RPN loss")
    positive_fraction: float = Field(0.5, gt=0.0, le=1.0, description="share of positive anchors in that sample")
    anchor_sizes: list[float] = Field(
        default_factory=lambda: [32.0, 64.0, 96.0, 128.0, 160.0], min_length=1, json_schema_extra=COST,
        description="anchor sizes in pixels on the stride-16 map (d2go order, unrounded); all > 0",
    )
    aspect_ratios: list[float] = Field(
        default_factory=lambda: [0.5, 1.0, 2.0], min_length=1, json_schema_extra=COST,
        description="anchor aspect ratios (height / width, d2go order); all > 0",
    )

    _iou = field_validator("iou_thresholds")(_check_iou_pair)

    @field_validator("anchor_sizes", "aspect_ratios")
    @classmethod
    def _positive(cls, value: list[float]) -> list[float]:
        if any(v <= 0 for v in value):
            raise ValueError(f"all values must be > 0, got {value}")
        return value


class RoIHeadsConfig(Section):
    """Box head sampling and test-time post-processing."""

    iou_thresholds: tuple[float, float] = Field(
        (0.5, 0.5),
        description="[lower, upper] IoU for box-head sampling, each in [0, 1], lower <= upper",
    )
    batch_size_per_image: int = Field(512, ge=1, description="RoIs sampled per image for the box-head loss")
    positive_fraction: float = Field(0.25, gt=0.0, le=1.0, description="share of positive RoIs in that sample")
    score_thresh: float = Field(
        0.05, ge=0.0, le=1.0, json_schema_extra=COST,
        description="test-time post-processing: smallest score a detection keeps",
    )
    nms_thresh: float = Field(
        0.5, gt=0.0, le=1.0, json_schema_extra=COST,
        description="test-time post-processing: IoU threshold of the per-class NMS",
    )
    detections_per_img: int = Field(100, ge=1, json_schema_extra=COST, description="test-time post-processing: detections kept per image")
    bbox_reg_weights: tuple[float, float, float, float] = Field((10.0, 10.0, 5.0, 5.0), description="box coder weights (x, y, w, h)")

    _iou = field_validator("iou_thresholds")(_check_iou_pair)


class ModelConfig(Section):
    arch: str | dict[str, Any] = Field(
        "fbnetv3_a_dsmask", json_schema_extra=COST,
        description=(
            "registered arch (`fbnetv3_a_dsmask`, `fbnetv3_a` ... `fbnetv3_h`, `fbnetv3_a_dsmask_tiny`, `*_c5`, ...; add your own "
            "with `detector.modeling.backbones.registry.register_arch`) or an inline spec `{trunk: [[blocks]], rpn: [blocks], bbox: "
            "[blocks]}`; a block is `[kind, channels, stride, repeats, {expansion}]` with kind like `ir_k5_se` / `ir_k3_sehsig_hs`, "
            "or a dict `{kind: ir, channels, kernel, expansion, se, ...}`"
        ),
    )
    num_classes: int | None = Field(None, ge=1, json_schema_extra=COST, description="foreground classes; null: from the data")
    weights: str | None = Field(
        DEFAULT_WEIGHTS,
        description='registry name (`"FBNetV3a-DSMask-C4 COCO"`, `"FBNetV3a-C4 COCO"`), a local checkpoint (d2go or ours), or `null`',
    )
    weights_fit: Literal["exact", "inherit"] = Field(
        "exact",
        description=(
            "how `weights` load: `exact` refuses an arch whose tensors differ from the file's; `inherit` takes what fits by "
            "Once-for-All's rules (first blocks of each stage, leading channels, kernel centres) and initialises the rest "
            "(`detector.weights.inherit`; what a search over archs from a checkpoint trains)"
        ),
    )
    norm: Literal["BN", "GN", "SyncBN", "naiveSyncBN", "FrozenBN"] = Field(
        "naiveSyncBN", json_schema_extra=COST,
        description=(
            "normalisation: `SyncBN` is torch SyncBatchNorm under DDP on CUDA, `naiveSyncBN` all-reduces the statistics (gloo/CPU and"
            " unequal per-process batches work)"
        ),
    )
    freeze_at: int = Field(
        2, ge=0,
        description=(
            "number of trunk stages frozen (weights and BN statistics), at most the trunk's stages; 0 = train all; "
            "defaults to 0 when `weights` is null (training from scratch)"
        ),
    )
    pooler_resolution: int = Field(6, ge=1, le=64, json_schema_extra=COST, description="RoIAlign output size for the box head")
    pooler_sampling_ratio: int = Field(0, ge=0, json_schema_extra=COST, description="RoIAlign sampling points per bin (0 = adaptive)")
    pooler_aligned: bool = Field(True, json_schema_extra=COST, description="RoIAlign half-pixel alignment (ROIAlignV2)")
    drop_path_rate: float = Field(0.0, ge=0.0, lt=1.0, description="stochastic depth in the trunk")
    box_head_dropout: float = Field(0.0, ge=0.0, lt=1.0, description="dropout before the predictor")
    pixel_mean: tuple[float, float, float] = Field(
        (103.530, 116.280, 123.675),
        description="input normalisation: mean subtracted from the BGR 0-255 image (d2go's); images are given as RGB in [0, 1]",
    )
    pixel_std: tuple[float, float, float] = Field(
        (1.0, 1.0, 1.0),
        description="input normalisation: the BGR 0-255 image is divided by it (d2go: 1); all > 0",
    )
    rpn: RPNConfig = Field(default_factory=RPNConfig, description="region proposal network")
    roi_heads: RoIHeadsConfig = Field(default_factory=RoIHeadsConfig, description="box head sampling and test-time post-processing")

    @model_validator(mode="before")
    @classmethod
    def _scratch_trains_all(cls, data: Any) -> Any:
        """`weights: null` is training from scratch: with nothing pretrained to keep, `freeze_at` defaults to 0
        (freezing random stages only costs accuracy); a `freeze_at` the user set is kept (and warned about in training)."""
        if isinstance(data, dict) and "weights" in data and data["weights"] is None and "freeze_at" not in data:
            return {**data, "freeze_at": 0}
        return data

    @field_validator("arch")
    @classmethod
    def _known_arch(cls, value: str | dict[str, Any]) -> str | dict[str, Any]:
        from detector.modeling.backbones.fbnet import parse_detection_arch

        parse_detection_arch(value)  # raises ValueError naming the problem
        return value

    @field_validator("pixel_std")
    @classmethod
    def _std_positive(cls, value: tuple[float, float, float]) -> tuple[float, float, float]:
        if any(v <= 0 for v in value):
            raise ValueError(f"all values must be > 0, got {list(value)}")
        return value

    @model_validator(mode="after")
    def _freeze_within_trunk(self) -> ModelConfig:
        from detector.modeling.backbones.fbnet import parse_detection_arch

        stages = len(parse_detection_arch(self.arch).trunk)
        if self.freeze_at > stages:
            raise ValueError(f"freeze_at: must be in 0..{stages} (the trunk has {stages} stages), got {self.freeze_at}")
        return self


class InputConfig(Section):
    """Resizing done inside the model: shorter side to `min_size` (capped by `max_size` on the long side).

    `min_size_train` lists the shorter-side sizes drawn per image in training (scale jitter, as
    detectron2's INPUT.MIN_SIZE_TRAIN with choice sampling); empty means `min_size`.
    """

    min_size: int = Field(224, ge=16, json_schema_extra=COST, description="shorter side of the image the model sees")
    max_size: int = Field(320, ge=16, json_schema_extra=COST, description="cap on the longer side; >= min_size")
    min_size_train: list[int] = Field(
        default_factory=list,
        description="shorter sides drawn per training image (scale jitter), each >= 16; [] = min_size",
    )

    @field_validator("min_size_train")
    @classmethod
    def _sizes(cls, value: list[int]) -> list[int]:
        if any(v < 16 for v in value):
            raise ValueError(f"all sizes must be >= 16, got {value}")
        return value

    @model_validator(mode="after")
    def _max_at_least_min(self) -> InputConfig:
        if self.max_size < self.min_size:
            raise ValueError(f"max_size ({self.max_size}) must be >= min_size ({self.min_size})")
        return self

    @property
    def train_sizes(self) -> tuple[int, ...]:
        return tuple(self.min_size_train) or (self.min_size,)


class AugmentConfig(Section):
    """Box-aware data augmentation (torchvision transforms.v2) applied before the model's resize."""

    hflip_prob: float = Field(0.5, ge=0.0, le=1.0, description="probability of a horizontal flip (box-aware torchvision `transforms.v2`)")
    color_jitter: float = Field(0.0, ge=0.0, le=1.0, description="strength of the brightness, contrast and saturation jitter (0 = off)")


class TrainConfig(Section):
    epochs: int = Field(12, ge=1, description="training length in epochs")
    batch_size: int = Field(8, ge=1, description="global batch, split evenly over the processes")
    optimizer: Literal["sgd", "adamw"] = Field("sgd", description="optimiser (no weight decay on norm and bias parameters)")
    lr: float = Field(0.02, gt=0.0, description="base learning rate")
    weight_decay: float = Field(1e-4, ge=0.0, description="weight decay (not on norm and bias parameters)")
    momentum: float = Field(0.9, ge=0.0, lt=1.0, description="SGD momentum")
    warmup_iters: int = Field(
        100, ge=0,
        description="linear warmup steps; fewer than the run's steps (`detector.train` refuses a warmup that never reaches `lr`; "
                    "a search trial scales it to its share of the final run)",
    )
    warmup_factor: float = Field(0.001, gt=0.0, le=1.0, description="learning-rate factor at the first warmup step")
    lr_schedule: Literal["cosine", "step"] = Field("cosine", description="after warmup: cosine to 0 or step decay")
    lr_steps: list[float] = Field(
        default_factory=lambda: [0.67, 0.89],
        description="step decay points as increasing fractions of training in (0, 1)",
    )
    lr_gamma: float = Field(0.1, gt=0.0, le=1.0, description="step decay factor")
    ema_decay: float = Field(0.0, ge=0.0, lt=1.0, description="EMA of weights and buffers; 0 = off (d2go uses 0.9998 for 500k iterations)")
    # Schedule-relative forms (what a search varies: the same value means the same in a 4-epoch trial and
    # the 30-epoch winner). When set, each replaces its absolute twin above for the run's length.
    warmup_fraction: float | None = Field(
        None, ge=0.0, le=0.5,
        description=(
            "warmup as a share of the run: warmup steps = fraction x total steps; when set, replaces `warmup_iters` (what a search "
            "varies, so a value measured in a short trial means the same in the long run)"
        ),
    )
    ema_horizon: float | None = Field(
        None, ge=0.0, le=1.0,
        description=(
            "EMA horizon as a share of the run: averaging over horizon x total steps (decay 1 - 1/steps); when set, replaces "
            "`ema_decay` (what a search varies, like `warmup_fraction`)"
        ),
    )
    amp: bool = Field(False, description="automatic mixed precision (CUDA only)")
    grad_clip: float | None = Field(None, gt=0.0, description="gradient-norm clipping; null = off")
    seed: int = Field(0, description="determinism: seeds every RNG and the data order")
    num_workers: int = Field(2, ge=0, description="data loader worker processes")
    eval_every: int = Field(1, ge=0, description="evaluation period in epochs (the last epoch is always evaluated; 0 = only then)")
    augment: AugmentConfig = Field(default_factory=AugmentConfig, description="box-aware data augmentation")

    @field_validator("lr_steps")
    @classmethod
    def _fractions(cls, value: list[float]) -> list[float]:
        if any(not 0.0 < v < 1.0 for v in value) or value != sorted(value):
            raise ValueError(f"must be increasing fractions of training in (0, 1), got {value}")
        return value

    def resolved(self, total_iters: int) -> TrainConfig:
        """This section for a run of `total_iters` steps: `warmup_fraction` becomes `warmup_iters`, and
        `ema_horizon` (the share of the run the EMA averages over, 1 / (1 - decay) steps) becomes `ema_decay`."""
        update: dict[str, Any] = {}
        if self.warmup_fraction is not None:
            update["warmup_iters"] = round(self.warmup_fraction * total_iters)
        if self.ema_horizon is not None:
            steps = self.ema_horizon * total_iters
            update["ema_decay"] = 1.0 - 1.0 / steps if steps > 1.0 else 0.0  # a horizon of one step or less averages nothing
        return self.model_copy(update=update)


class DetectorConfig(Section):
    """Everything needed to rebuild and retrain a detector."""

    model: ModelConfig = Field(default_factory=ModelConfig, description="the detector")
    input: InputConfig = Field(default_factory=InputConfig, description="resizing inside the model")
    train: TrainConfig = Field(default_factory=TrainConfig, description="the training recipe")

    def with_num_classes(self, num_classes: int) -> DetectorConfig:
        """This config for `num_classes` foreground classes (the data's count, where the config leaves it unset)."""
        return self.model_copy(update={"model": self.model.model_copy(update={"num_classes": num_classes})})


def load_config(
    source: str | os.PathLike[str] | dict[str, Any] | DetectorConfig | None = None,
    origin: str | Callable[[str], str] | None = None,
) -> DetectorConfig:
    """Load and validate a config from a YAML path, a plain dict, or pass a config through.

    Errors start with where the wrong value came from: `origin` as a string (what the whole dict was read from), or
    `origin(key)` per problem for a dict merged from several sources (a file and `--set`s: `core.overrides.origin_of`),
    else the path of a YAML source.
    """
    if isinstance(source, DetectorConfig):
        return source
    if source is None:
        data: Any = {}
    elif isinstance(source, dict):
        data = source
    else:
        data = read_yaml(source, "config")
        origin = origin or str(source)
    if not isinstance(data, dict):
        where = origin("") if callable(origin) else origin
        raise ConfigError(f"{where + ': ' if where else ''}config must be a mapping of sections (model, input, train), "
                          f"got {type(data).__name__}")
    try:
        return DetectorConfig.model_validate(data)
    except ValidationError as exc:
        if callable(origin):
            raise ConfigError(format_validation_error(exc, DetectorConfig, origin)) from None
        raise ConfigError((f"{origin}: " if origin else "") + format_validation_error(exc, DetectorConfig)) from None


def config_to_dict(config: DetectorConfig) -> dict[str, Any]:
    """Plain YAML-friendly dict (tuples become lists)."""
    return config.model_dump(mode="json")


def dump_config(config: DetectorConfig, path: str | os.PathLike[str]) -> None:
    """Write the resolved config as YAML, atomically."""
    atomic_write_text(path, yaml.safe_dump(config_to_dict(config), sort_keys=False))
