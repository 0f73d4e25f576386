"""COCO box AP of a detector on a COCO-format data set (pycocotools COCOeval). Numbers are in percent like
detectron2's (AP 0..100); a metric that is undefined for the data (no large objects) is NaN, not 0. The CLI is
`detector.evaluate`."""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from torch import nn
from tqdm import tqdm

from detector.evaluation.metric_names import METRIC_KEYS


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


def coco_metrics(
    coco_gt: COCO, results: list[dict[str, Any]], image_ids: Sequence[int], class_names: Sequence[str],
    label_to_category_id: dict[int, int],
) -> dict[str, Any]:
    """COCOeval (bbox) restricted to `image_ids`; overall AP numbers and per-class AP in percent."""
    coco_dt = _results_coco(coco_gt, results)
    evaluator = COCOeval(coco_gt, coco_dt, "bbox")
    evaluator.params.imgIds = list(image_ids)
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress and the summary
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    metrics: dict[str, Any] = {key: _percent(evaluator.stats[i]) for i, key in enumerate(METRIC_KEYS)}
    # precision: [IoU thresholds, recall points, categories, area ranges, max dets]; area "all", 100 dets.
    precision = evaluator.eval["precision"]
    cat_index = {cid: i for i, cid in enumerate(evaluator.params.catIds)}
    per_class: dict[str, float] = {}
    for label, name in enumerate(class_names, start=1):
        values = precision[:, :, cat_index[label_to_category_id[label]], 0, -1]
        values = values[values > -1]
        per_class[name] = float(np.mean(values)) * 100.0 if values.size else math.nan
    metrics["per_class_ap"] = per_class
    return metrics


def evaluate_coco(
    model: nn.Module, dataset: Any, *, batch_size: int = 4, device: str | torch.device = "cpu", num_workers: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """COCO AP of `model` on `dataset` (a `detector.data.dataset.CocoDetection` without train augmentation).

    Returns `{"ap", "ap50", "ap75", "aps", "apm", "apl"}` in percent and `"per_class_ap"`
    (class name -> AP). No detections at all gives AP 0 (not an error). The model's train/eval
    mode is restored afterwards.
    """
    results = predict_coco_results(
        model, dataset, batch_size=batch_size, device=device, num_workers=num_workers, progress=progress
    )
    return coco_metrics(
        dataset.coco, results, dataset.image_ids, dataset.class_names,
        {int(k): int(v) for k, v in dataset.label_to_category_id.items()},
    )


def format_metrics_table(metrics: dict[str, Any]) -> str:
    """Overall metrics, then per-class AP, as an aligned text table."""

    def fmt(value: Any) -> str:
        return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.2f}"

    rows = [(key.upper(), fmt(metrics.get(key))) for key in METRIC_KEYS]
    per_class = metrics.get("per_class_ap") or {}
    width = max([len(name) for name in per_class] + [6])
    lines = [f"{'metric':<{width}}  {'value':>7}"] + [f"{name:<{width}}  {value:>7}" for name, value in rows]
    if per_class:
        lines += ["", f"{'class':<{width}}  {'AP':>7}"]
        lines += [f"{name:<{width}}  {fmt(ap):>7}" for name, ap in per_class.items()]
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
