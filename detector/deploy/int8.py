"""Post-training static int8 quantization of an exported FBNetV3OD, calibrated on the user's images.

ONNX Runtime's static QDQ quantization (`onnxruntime.quantization.quantize_static`) of the ONNX
graph that `detector.export` writes. Chosen over PyTorch's PT2E flow (`X86InductorQuantizer`)
because PT2E quantizes a `torch.export` graph, and `torch.export` stops at torchvision's
data-dependent NMS (why `detector.export` uses the TorchScript-based ONNX exporter), so it could
only quantize the trunk and heads as separate pieces; its int8 kernels are reached through
`torch.compile` (Inductor), which a deployed file cannot carry. ONNX Runtime quantizes the whole
exported graph and the result needs ONNX Runtime alone. Measured: BENCHMARKS.md ("Detector
speed", "Int8 accuracy").

What is quantized: the nodes of the trunk, the RPN head, the box head and the box predictor (the
convolutions and matrix products, and the adds, ReLUs and pooling between them, so that
activations stay int8 from one convolution to the next), weights per output channel (int8),
activations per tensor (uint8), ranges from the calibration images. What stays float: resizing and
normalisation of the input, anchors, proposal decoding and NMS, RoIAlign, box decoding and the
final NMS: `QUANTIZED_SCOPES` names the modules, by the scope names the exporter writes into
every node name.
"""

from __future__ import annotations

import logging
import os
import random
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torchvision.ops import box_iou

from core.atomic import atomic_open
from core.errors import DataError, UserError
from detector.deploy.formats import DEFAULT_CALIBRATION_COUNT
from detector.deploy.runner import add_metadata, require_onnxruntime, run_session

QUANTIZED_SCOPES = ("/detector/backbone/", "/detector/rpn/head/", "/detector/roi_heads/box_head/", "/detector/roi_heads/box_predictor/")
"""Exporter scope prefixes of the modules whose nodes are quantized (see the module docstring)."""
MATCH_IOU = 0.5
"""An int8 detection matches an fp32 one of the same class at this IoU or more (COCO's AP50 rule)."""


class QuantizationError(UserError, RuntimeError):
    """The model cannot be quantized with the given images."""


def calibration_paths(folder: str | os.PathLike[str], count: int = DEFAULT_CALIBRATION_COUNT, seed: int = 0) -> list[Path]:
    """Up to `count` image files of `folder` (a seeded random subset when there are more), sorted."""
    from detector.data.images import IMAGE_EXTENSIONS, find_images

    if count < 1:
        raise QuantizationError(f"--calibration-count must be >= 1, got {count}")
    folder = Path(folder)
    if not folder.is_dir():
        raise QuantizationError(f"--calibration-images: {folder} is not a folder")
    paths = find_images([folder])
    if not paths:
        raise QuantizationError(f"--calibration-images: {folder} holds no images ({', '.join(IMAGE_EXTENSIONS)})")
    if len(paths) > count:
        paths = sorted(random.Random(seed).sample(paths, count))
    return paths


def model_scale(image: Tensor, min_size: int, max_size: int) -> Tensor:
    """`image` resized by the rule of the model's own transform (torchvision's `GeneralizedRCNNTransform`:
    scale = min(min_size / shorter side, max_size / longer side), bilinear), so that calibration holds
    small arrays rather than full-size photos. torchvision's `resize(max_size=)` refuses max_size == min_size."""
    h, w = image.shape[-2:]
    scale = min(min_size / min(h, w), max_size / max(h, w))
    return torch.nn.functional.interpolate(image[None], scale_factor=scale, mode="bilinear", recompute_scale_factor=True,
                                           align_corners=False)[0]


def load_calibration_images(paths: Sequence[Path], min_size: int, max_size: int) -> list[Tensor]:
    """Decode every calibration image (an undecodable one is an error naming it), at the model's scale."""
    from detector.data.images import load_rgb_image

    images = []
    for path in paths:
        try:
            images.append(model_scale(load_rgb_image(path), min_size, max_size))
        except DataError as exc:
            raise QuantizationError(f"calibration image {exc}") from None
    return images


class _ImageReader:
    """ONNX Runtime's `CalibrationDataReader` protocol over decoded images (`get_next` until None)."""

    def __init__(self, images: Sequence[Tensor]) -> None:
        self._images: Iterator[Tensor] = iter(images)

    def get_next(self) -> dict[str, np.ndarray] | None:
        image = next(self._images, None)
        return None if image is None else {"image": image.numpy()}


def _quantized_nodes(model: Any) -> list[str]:
    return [node.name for node in model.graph.node if node.name.startswith(QUANTIZED_SCOPES)]


def quantize_int8(
    fp32_path: str | os.PathLike[str],
    output: str | os.PathLike[str],
    images: Sequence[Tensor],
    *,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Write the int8 form of the exported fp32 ONNX file `fp32_path` to `output` (atomically).

    `images` are the calibration images (float RGB, any size). Activation ranges are the min and max
    seen over them (ORT's MinMax calibrator): its histogram calibrators (entropy, percentile) stack
    every image's tensors and fail on the detector's image-dependent shapes. `metadata` (the fp32
    export's) is stored with `precision: int8` and the calibration facts.
    """
    ort = require_onnxruntime()
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if not images:
        raise QuantizationError("no calibration images")
    output = Path(output)
    quiet = logging.getLogger()  # the quantizer logs advice through the root logger; keep the CLI's output to its own lines
    level = quiet.level
    with tempfile.TemporaryDirectory(prefix="fbnetv3od-int8-") as scratch:
        prepared, quantized = Path(scratch, "prepared.onnx"), Path(scratch, "int8.onnx")
        quiet.setLevel(logging.ERROR)
        try:
            # ORT's recommended pre-processing: graph optimisation (folds BN, constant biases) and ONNX
            # shape inference. Symbolic shape inference cannot follow the detector's data-dependent shapes.
            quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
            model = onnx.load(str(prepared))
            quantize_static(
                str(prepared), str(quantized), _ImageReader(images),
                quant_format=QuantFormat.QDQ, per_channel=True,
                activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                nodes_to_quantize=_quantized_nodes(model), calibrate_method=CalibrationMethod.MinMax,
            )
        finally:
            quiet.setLevel(level)
        model = onnx.load(str(quantized))
        add_metadata(model, {**(metadata or {}), "precision": "int8", "calibration": {"images": len(images), "method": "minmax",
                                                                                      "onnxruntime": ort.__version__}})
        with atomic_open(output, "wb", suffix=output.suffix) as handle:
            handle.write(model.SerializeToString())
    return output


def compare_int8(fp32_session: Any, int8_session: Any, images: Sequence[Tensor]) -> dict[str, float]:
    """How far the int8 model's detections are from the fp32 model's on `images`.

    Each fp32 detection (highest score first) is matched to the unmatched int8 detection of the same
    class with the highest IoU, if that IoU is at least `MATCH_IOU`. Returns the counts and, over
    matched pairs, the mean and max box corner shift in pixels and the mean and max score change.
    """
    stats = {"images": len(images), "fp32": 0, "int8": 0, "matched": 0}
    box_shifts: list[Tensor] = []
    score_shifts: list[Tensor] = []
    for image in images:
        ref_boxes, ref_labels, ref_scores = run_session(fp32_session, image)
        boxes, labels, scores = run_session(int8_session, image)
        stats["fp32"] += len(ref_boxes)
        stats["int8"] += len(boxes)
        if not len(ref_boxes) or not len(boxes):
            continue
        iou = box_iou(ref_boxes, boxes)
        iou[ref_labels[:, None] != labels[None, :]] = -1.0
        for i in torch.argsort(ref_scores, descending=True).tolist():
            j = int(iou[i].argmax())
            if iou[i, j] < MATCH_IOU:
                continue
            iou[:, j] = -1.0  # each int8 detection matches once
            stats["matched"] += 1
            box_shifts.append((boxes[j] - ref_boxes[i]).abs().max())
            score_shifts.append((scores[j] - ref_scores[i]).abs())
    shifts = torch.stack(box_shifts) if box_shifts else torch.zeros(1)
    score = torch.stack(score_shifts) if score_shifts else torch.zeros(1)
    stats.update(mean_box_px=float(shifts.mean()), max_box_px=float(shifts.max()),
                 mean_score=float(score.mean()), max_score=float(score.max()))
    return stats


def format_comparison(stats: dict[str, float]) -> str:
    """One line for the CLI's `--check`."""
    share = stats["matched"] / stats["fp32"] if stats["fp32"] else float("nan")
    return (
        f"int8 vs fp32 on {stats['images']} images: {stats['matched']} of {stats['fp32']} fp32 detections matched "
        f"({share:.0%}, same class, IoU >= {MATCH_IOU}; int8 has {stats['int8']}); matched boxes moved "
        f"{stats['mean_box_px']:.2f} px on average (max {stats['max_box_px']:.2f}), scores by {stats['mean_score']:.2g} "
        f"(max {stats['max_score']:.2g})"
    )
