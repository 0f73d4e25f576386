"""COCO box AP of a detector on a COCO-format data set (pycocotools COCOeval). Numbers are in percent like
detectron2's (AP 0..100); a metric that is undefined for the data (no large objects) is NaN, not 0. The CLI is
`detector.evaluate`."""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from torch import nn
from torchvision.ops import box_convert
from tqdm import tqdm

from detector.evaluation.metric_names import METRIC_KEYS
from detector.evaluation.per_class import format_per_class_table, format_value, per_class_rows


def _plain(tensor: torch.Tensor) -> torch.Tensor:
    """Drop tv_tensors subclasses so the model sees ordinary tensors."""
    return tensor.as_subclass(torch.Tensor)


@torch.inference_mode()
def predict_coco_results(
    model: nn.Module, dataset: Any, *, batch_size: int = 4, device: str | torch.device = "cpu", num_workers: int = 0,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Run `model` (eval mode) over `dataset` and return COCO result records with category ids."""
    from detector.data.loader import build_dataloader

    device = torch.device(device)
    label_to_cat = {int(k): int(v) for k, v in dataset.label_to_category_id.items()}
    loader = build_dataloader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers, seed=0)
    was_training = model.training
    model.eval()
    results: list[dict[str, Any]] = []
    try:
        for images, targets in tqdm(loader, desc="eval", leave=False, disable=not progress, dynamic_ncols=True):
            outputs = model([_plain(img).to(device) for img in images])
            for target, output in zip(targets, outputs):
                boxes = output["boxes"].float().cpu()
                if boxes.numel() == 0:
                    continue
                xywh = torch.cat([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], dim=1).tolist()
                for box, label, score in zip(xywh, output["labels"].tolist(), output["scores"].float().cpu().tolist()):
                    results.append(
                        {"image_id": int(target["image_id"]), "category_id": label_to_cat[int(label)],
                         "bbox": [round(v, 3) for v in box], "score": float(score)}
                    )
    finally:
        model.train(was_training)
    return results


def _results_coco(coco_gt: COCO, results: list[dict[str, Any]]) -> COCO:
    """`coco_gt.loadRes(results)`, also for an empty result list (which loadRes cannot take)."""
    with contextlib.redirect_stdout(io.StringIO()):
        if results:
            return coco_gt.loadRes(results)
        coco_dt = COCO()
        coco_dt.dataset = {"images": list(coco_gt.dataset["images"]), "categories": list(coco_gt.dataset["categories"]),
                           "annotations": []}
        coco_dt.createIndex()
        return coco_dt


def _percent(value: float) -> float:
    return float(value) * 100.0 if value >= 0 else math.nan


def run_cocoeval(coco_gt: COCO, results: list[dict[str, Any]], image_ids: Sequence[int]) -> COCOeval:
    """COCOeval (bbox) of `results` restricted to `image_ids`, evaluated, accumulated and summarised, quietly."""
    evaluator = COCOeval(coco_gt, _results_coco(coco_gt, results), "bbox")
    evaluator.params.imgIds = list(image_ids)
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress and the summary
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator


@dataclass(frozen=True)
class CocoEvaluation:
    """One evaluation, kept whole so that the report's tables and figures need no second pass over the images.

    `metrics`: `evaluate_coco`'s dict; `per_class`: rows of `per_class_rows` (counts, AP, AP50, then "all");
    `results`: the COCO detection records; `evaluator`: the accumulated COCOeval (its precision array)."""

    metrics: dict[str, Any]
    per_class: list[dict[str, Any]]
    results: list[dict[str, Any]]
    evaluator: COCOeval


def evaluate_results(
    coco_gt: COCO, results: list[dict[str, Any]], image_ids: Sequence[int], class_names: Sequence[str],
    label_to_category_id: dict[int, int],
) -> CocoEvaluation:
    """COCO AP of detection records on `image_ids`: overall numbers, per-class AP, and the per-class table."""
    evaluator = run_cocoeval(coco_gt, results, image_ids)
    metrics: dict[str, Any] = {key: _percent(evaluator.stats[i]) for i, key in enumerate(METRIC_KEYS)}
    rows = per_class_rows(evaluator, class_names, label_to_category_id)
    metrics["per_class_ap"] = {row["class"]: row["ap"] for row in rows[:-1]}  # the last row is "all"
    return CocoEvaluation(metrics, rows, results, evaluator)


def coco_evaluation(
    model: nn.Module, dataset: Any, *, batch_size: int = 4, device: str | torch.device = "cpu", num_workers: int = 0,
    progress: bool = True,
) -> CocoEvaluation:
    """`model`'s detections on `dataset` (one pass) and their COCO evaluation; see `evaluate_coco`."""
    results = predict_coco_results(
        model, dataset, batch_size=batch_size, device=device, num_workers=num_workers, progress=progress
    )
    return evaluate_results(
        dataset.coco, results, dataset.image_ids, dataset.class_names,
        {int(k): int(v) for k, v in dataset.label_to_category_id.items()},
    )


def evaluate_coco(
    model: nn.Module, dataset: Any, *, batch_size: int = 4, device: str | torch.device = "cpu", num_workers: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """COCO AP of `model` on `dataset` (a `detector.data.dataset.CocoDetection` without train augmentation).

    Returns `{"ap", "ap50", "ap75", "aps", "apm", "apl"}` in percent and `"per_class_ap"`
    (class name -> AP). No detections at all gives AP 0 (not an error). The model's train/eval
    mode is restored afterwards.
    """
    return coco_evaluation(
        model, dataset, batch_size=batch_size, device=device, num_workers=num_workers, progress=progress
    ).metrics


def detections_per_image(results: list[dict[str, Any]], dataset: Any) -> list[dict[str, torch.Tensor]]:
    """COCO detection records back to torchvision's per-image `{"boxes" (XYXY), "labels", "scores"}`, in data-set order."""
    index = {image_id: i for i, image_id in enumerate(dataset.image_ids)}
    grouped: list[list[dict[str, Any]]] = [[] for _ in dataset.image_ids]
    for record in results:
        grouped[index[record["image_id"]]].append(record)
    out = []
    for records in grouped:
        xywh = torch.tensor([r["bbox"] for r in records], dtype=torch.float32).reshape(-1, 4)
        out.append({"boxes": box_convert(xywh, "xywh", "xyxy"),
                    "labels": torch.tensor([dataset.category_id_to_label[r["category_id"]] for r in records], dtype=torch.int64),
                    "scores": torch.tensor([r["score"] for r in records], dtype=torch.float32)})
    return out


def format_metrics_table(metrics: dict[str, Any], per_class: Sequence[dict[str, Any]] | None = None) -> str:
    """Overall metrics, then per-class AP, as an aligned text table; with `per_class` rows (`per_class_rows`), the
    per-class part also has AP50 and the image and instance counts."""
    rows = [(key.upper(), format_value(metrics.get(key))) for key in METRIC_KEYS]
    per_class_ap = metrics.get("per_class_ap") or {}
    width = max([len(name) for name in per_class_ap] + [6])
    lines = [f"{'metric':<{width}}  {'value':>7}"] + [f"{name:<{width}}  {value:>7}" for name, value in rows]
    if per_class:
        lines += ["", format_per_class_table(per_class)]
    elif per_class_ap:
        lines += ["", f"{'class':<{width}}  {'AP':>7}"]
        lines += [f"{name:<{width}}  {format_value(ap):>7}" for name, ap in per_class_ap.items()]
    return "\n".join(lines)


def json_safe(value: Any) -> Any:
    """NaN/inf become null so the file is strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value
