"""Export the inference model (resize + normalise, detector, post-processing) to TorchScript or ONNX, and check an
exported file against the PyTorch model it came from. The CLI is `detector.export`.

Both formats take ONE float RGB image [3, H, W] in [0, 1] of any size and return `boxes` (XYXY in
input pixels), `labels` (1..K, see the checkpoint's class_names) and `scores`, like the PyTorch
model's eval output. TorchScript uses `torch.jit.script` (torchvision's detection models are
scriptable, so no input-specific trace). ONNX uses the TorchScript-based exporter
(`dynamo=False`), the path torchvision's detection models support: the torch.export-based one
stops at the data-dependent NMS (`batched_nms`); opset >= 16 is needed for aligned RoIAlign.
"""

from __future__ import annotations

import copy
import io
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from core.atomic import atomic_open
from core.errors import UserError
from detector.deploy.formats import DEFAULT_OPSET, FORMATS
from detector.deploy.runner import add_metadata, onnx_session, run_session

OUTPUT_NAMES = ("boxes", "labels", "scores")


class ExportError(UserError, RuntimeError):
    """The exported model cannot be written or does not reproduce the PyTorch model."""


class InferenceModel(nn.Module):
    """One image in, `(boxes, labels, scores)` out: the exported interface, same for both formats."""

    def __init__(self, detector: nn.Module) -> None:
        super().__init__()
        self.detector = detector
        detector._has_warned = True  # torchvision's "scripted RCNN returns (losses, detections)": unpacked below

    def forward(self, image: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        if torch.jit.is_scripting():
            detections = self.detector([image])[1][0]
        else:
            detections = self.detector([image])[0]
        return detections["boxes"], detections["labels"], detections["scores"]


def _plain_batchnorm(module: nn.Module) -> nn.Module:
    """Swap BN variants that only differ in training (naiveSyncBN, SyncBN) for `nn.BatchNorm2d`:
    identical in eval, and scriptable/exportable (they call torch.distributed)."""
    for name, child in module.named_children():
        if isinstance(child, nn.modules.batchnorm._BatchNorm) and type(child) is not nn.BatchNorm2d:
            plain = nn.BatchNorm2d(child.num_features, child.eps, child.momentum, child.affine, child.track_running_stats)
            plain.load_state_dict(child.state_dict())
            setattr(module, name, plain.eval())
        else:
            _plain_batchnorm(child)
    return module


def inference_model(detector: nn.Module) -> InferenceModel:
    """CPU eval copy of `detector`, ready for scripting or tracing (the original is untouched)."""
    model = copy.deepcopy(detector).cpu().eval()
    return InferenceModel(_plain_batchnorm(model)).eval()


def _atomic(path: Path, write: Any) -> None:
    """Let `write(file)` produce the file, then rename it over `path`: never half a file."""
    with atomic_open(path, "wb", suffix=path.suffix) as handle:
        write(handle)


def example_image(image_size: tuple[int, int]) -> Tensor:
    """The fixed random image traced for ONNX (its content does not matter, its size is only a default)."""
    return torch.rand(3, *image_size, generator=torch.Generator().manual_seed(0))


def min_opset(detector: nn.Module) -> int:
    """ONNX RoiAlign has the half-pixel (`aligned=True`) mode from opset 16 on."""
    return 16 if getattr(detector.roi_heads.box_roi_pool, "aligned", False) else 11


def export_model(
    detector: nn.Module,
    output: str | os.PathLike[str],
    fmt: str = "onnx",
    image_size: tuple[int, int] = (224, 320),
    opset: int = DEFAULT_OPSET,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Write `detector`'s inference model to `output` (atomically); `image_size` is the ONNX example input.

    ONNX files carry `metadata` (class names, category ids: `export_metadata`) for running them alone.
    """
    if fmt not in FORMATS:
        raise ExportError(f"--format: expected one of {', '.join(FORMATS)}, got '{fmt}'")
    output = Path(output)
    model = inference_model(detector)
    with warnings.catch_warnings():
        # Tracer/deprecation warnings from torch and torchvision internals are expected here.
        warnings.simplefilter("ignore")
        if fmt == "torchscript":
            scripted = torch.jit.script(model)
            _atomic(output, lambda tmp: torch.jit.save(scripted, tmp))
        else:
            if opset < min_opset(detector):
                raise ExportError(f"--opset {opset}: aligned RoIAlign (model.pooler_aligned) needs opset >= {min_opset(detector)}")
            # Tracing keeps the detection-count-dependent branches: torchvision scripts its NMS helpers
            # (`_script_if_tracing`), so an example without detections still exports a working model.
            example = example_image(image_size)
            dynamic = {"image": {1: "height", 2: "width"}, **{name: {0: "detections"} for name in OUTPUT_NAMES}}
            buffer = io.BytesIO()
            torch.onnx.export(
                model, (example,), buffer, dynamo=False, opset_version=opset, input_names=["image"],
                output_names=list(OUTPUT_NAMES), dynamic_axes=dynamic,
            )
            _atomic(output, lambda tmp: tmp.write(_with_metadata(buffer.getvalue(), metadata or {})))
    return output


def _with_metadata(serialized: bytes, metadata: dict[str, Any]) -> bytes:
    import onnx

    model = onnx.load_from_string(serialized)
    add_metadata(model, {"precision": "fp32", **metadata})
    return model.SerializeToString()


def export_metadata(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """What a deployed file needs from its checkpoint: the classes, their COCO ids and the config."""
    return {
        "class_names": list(checkpoint["class_names"]),
        "label_to_category_id": {str(k): int(v) for k, v in checkpoint["label_to_category_id"].items()},
        "config": checkpoint["config"],
    }


def load_exported(path: str | os.PathLike[str], fmt: str) -> Any:
    """A callable `image [3, H, W] -> (boxes, labels, scores)` running the exported file on CPU."""
    if fmt == "torchscript":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load is deprecated, still supported
            module = torch.jit.load(str(path), map_location="cpu")
        return lambda image: tuple(t.detach() for t in module(image))
    session = onnx_session(path)
    return lambda image: run_session(session, image)


def _match(ref_boxes: Tensor, ref_labels: Tensor, boxes: Tensor, labels: Tensor) -> list[int]:
    """Greedy pairing of reference and exported detections (same label, closest box), so a swap
    of two nearly tied scores is not reported as a mismatch."""
    cost = (ref_boxes[:, None, :] - boxes[None, :, :]).abs().amax(-1)
    cost[ref_labels[:, None] != labels[None, :]] = float("inf")
    order: list[int] = []
    for row in cost:
        row[order] = float("inf")
        order.append(int(row.argmin()))
    return order


@torch.inference_mode()
def compare_with_pytorch(
    detector: nn.Module,
    exported: Any,
    images: Sequence[Tensor],
    box_tol: float = 1e-3,
    score_tol: float = 1e-4,
) -> dict[str, float]:
    """Max deviations of the exported model from `detector`'s eval output over `images`.

    Boxes may differ by `box_tol` x the image's longer side (pixels), scores by `score_tol`;
    labels and detection counts must be equal. Raises `ExportError` naming the first mismatch.
    """
    device = next(detector.parameters()).device
    was_training = detector.training
    detector.eval()
    try:
        return _compare(detector, exported, images, device, box_tol, score_tol)
    finally:
        detector.train(was_training)


def _compare(
    detector: nn.Module, exported: Any, images: Sequence[Tensor], device: torch.device, box_tol: float, score_tol: float
) -> dict[str, float]:
    stats = {"images": len(images), "detections": 0, "max_box_px": 0.0, "max_box_rel": 0.0, "max_score": 0.0}
    for image in images:
        ref = {k: v.cpu() for k, v in detector([image.to(device)])[0].items()}
        boxes, labels, scores = exported(image)
        size = f"{image.shape[-2]}x{image.shape[-1]}"
        if len(boxes) != len(ref["boxes"]):
            raise ExportError(f"exported model finds {len(boxes)} detections on a {size} image, PyTorch {len(ref['boxes'])}")
        stats["detections"] += len(boxes)
        if len(boxes) == 0:
            continue
        idx = _match(ref["boxes"], ref["labels"], boxes.float(), labels.long())
        box_dev = float((boxes[idx].float() - ref["boxes"]).abs().max())
        score_dev = float((scores[idx].float() - ref["scores"]).abs().max())
        if not torch.equal(labels[idx].long(), ref["labels"]):
            raise ExportError(f"exported model's labels differ from PyTorch's on a {size} image")
        longer = max(image.shape[-2:])
        stats["max_box_px"] = max(stats["max_box_px"], box_dev)
        stats["max_box_rel"] = max(stats["max_box_rel"], box_dev / longer)
        stats["max_score"] = max(stats["max_score"], score_dev)
        if box_dev > box_tol * longer or score_dev > score_tol:
            raise ExportError(
                f"exported model deviates from PyTorch on a {size} image: boxes by {box_dev:.4g} px "
                f"(allowed {box_tol * longer:.3g}), scores by {score_dev:.3g} (allowed {score_tol:.3g})"
            )
    return stats


def check_images(image_size: tuple[int, int], image_path: str | None = None) -> list[Tensor]:
    """The given image, or a fixed random one, at `image_size` and transposed (checks dynamic sizes)."""
    if image_path:
        from detector.data.images import load_rgb_image

        image = load_rgb_image(image_path)
        return [image, image.transpose(1, 2).contiguous()]
    generator = torch.Generator().manual_seed(1)
    h, w = image_size
    return [torch.rand(3, h, w, generator=generator), torch.rand(3, w, h, generator=generator)]
