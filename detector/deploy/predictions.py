"""A detector (checkpoint or exported file) run on image files: detections per image in the images' own pixels, and
the COCO-style result entries `detector.predict` writes. Unreadable files are skipped and reported, not fatal."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torchvision.ops import box_convert

from core.errors import DataError
from detector.evaluation.drawing import _name

log = logging.getLogger(__name__)


def _load(path: Path) -> Tensor | str:
    """Float RGB image, or the reason it cannot be read."""
    from detector.data.images import load_rgb_image

    try:
        return load_rgb_image(path)
    except DataError as exc:
        return str(exc)
    except OSError as exc:  # permissions, I/O errors
        return f"{path}: {exc}"


@torch.inference_mode()
def iter_predictions(
    model: nn.Module,
    paths: Sequence[Path],
    score_thresh: float = 0.5,
    device: str | torch.device = "cpu",
    batch_size: int = 4,
) -> Iterator[dict[str, Any]]:
    """Yield per path, in order, `{"path", "image" (float RGB, CPU), "boxes", "labels", "scores"}`
    (CPU tensors, score >= `score_thresh`) or `{"path", "error"}` for a file that cannot be read.

    The model's own score threshold is lowered to `score_thresh` for the run if it is higher, so a
    low threshold here is not silently capped by the one used in evaluation.
    """
    roi_heads = getattr(model, "roi_heads", None)
    saved = getattr(roi_heads, "score_thresh", None)
    if saved is not None and saved > score_thresh:
        roi_heads.score_thresh = score_thresh
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(paths), batch_size):
            loaded = [(p, _load(p)) for p in paths[start : start + batch_size]]
            images = [img for _, img in loaded if isinstance(img, Tensor)]
            outputs = iter(model([img.to(device) for img in images]) if images else [])
            for path, image in loaded:
                if isinstance(image, str):
                    yield {"path": path, "error": image}
                    continue
                out = next(outputs)
                keep = out["scores"] >= score_thresh
                yield {"path": path, "image": image, **{k: out[k][keep].cpu() for k in ("boxes", "labels", "scores")}}
    finally:
        if saved is not None:
            roi_heads.score_thresh = saved
        model.train(was_training)


def predict_images(
    model: nn.Module,
    class_names: Sequence[str],
    paths: Sequence[str | Path],
    score_thresh: float = 0.5,
    device: str | torch.device = "cpu",
    batch_size: int = 4,
) -> list[dict[str, Any]]:
    """Detections per readable image: `{"path", "width", "height", "boxes" (XYXY px), "labels",
    "scores", "names"}`; unreadable files are logged and left out."""
    results = []
    for item in iter_predictions(model, [Path(p) for p in paths], score_thresh, device, batch_size):
        if "error" in item:
            log.warning("skipped %s", item["error"])
            continue
        image = item.pop("image")
        item.update(height=image.shape[-2], width=image.shape[-1])
        item["names"] = [_name(class_names, int(label)) for label in item["labels"]]
        results.append(item)
    return results


def to_coco_results(
    file_name: str, boxes: Tensor, labels: Tensor, scores: Tensor, class_names: Sequence[str], label_to_category_id: dict[Any, Any]
) -> list[dict[str, Any]]:
    """COCO results entries (bbox as x, y, width, height) plus the file and class name for people."""
    xywh = box_convert(boxes, "xyxy", "xywh")
    entries = []
    for box, label, score in zip(xywh.tolist(), labels.tolist(), scores.tolist()):
        category = label_to_category_id.get(label, label_to_category_id.get(str(label), label))
        entries.append(
            {
                "file_name": file_name,
                "bbox": [round(v, 2) for v in box],
                "score": round(score, 5),
                "category_id": int(category),
                "category_name": _name(class_names, label),
            }
        )
    return entries
