"""COCO box AP of a detector on a COCO-format data set (pycocotools COCOeval), and its CLI.

Numbers are in percent like detectron2's (AP 0..100). A metric that is undefined because the data
holds no ground truth of that kind (e.g. no small objects) is NaN in Python and null in JSON.

    python -m detector.evaluate --checkpoint OUT/model_final.pt --data DIR [--split val|train]
    python -m detector.evaluate --model model_int8.onnx --data DIR     # an exported file, fp32 or int8
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from torch import nn
from tqdm import tqdm

from core.cli import ArgumentParser
from core.errors import DataError, run_cli

METRIC_KEYS = ("ap", "ap50", "ap75", "aps", "apm", "apl")  # order of COCOeval.stats[0:6]


def _plain(tensor: torch.Tensor) -> torch.Tensor:
    """Drop tv_tensors subclasses so the model sees ordinary tensors."""
    return tensor.as_subclass(torch.Tensor)


@torch.inference_mode()
def predict_coco_results(
    model: nn.Module, dataset: Any, *, batch_size: int = 4, device: str | torch.device = "cpu", num_workers: int = 0,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Run `model` (eval mode) over `dataset` and return COCO result records with category ids."""
    from detector.data import build_dataloader

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
    """COCO AP of `model` on `dataset` (a `detector.data.CocoDetection` without train augmentation).

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


def _dataset_for(args: argparse.Namespace) -> tuple[Path, Path]:
    """(annotation file, image folder) from --data DIR + --split, or explicit --val-json/--val-images."""
    if args.val_json is not None:
        return args.val_json, args.val_images or args.val_json.parent / "images"
    if args.data is None:
        raise DataError("no evaluation data: give --data DIR (uses DIR/<split>.json and DIR/images) or --val-json J --val-images D")
    if not args.data.is_dir():
        raise DataError(f"data folder not found: {args.data} (expected DIR/images/ and DIR/{args.split}.json)")
    return args.data / f"{args.split}.json", args.data / "images"


def _check_classes(checkpoint: dict[str, Any], dataset: Any, source: Path) -> None:
    """The data must use the classes (names and category ids) the checkpoint was trained on."""
    trained = {int(k): int(v) for k, v in checkpoint["label_to_category_id"].items()}
    if list(checkpoint["class_names"]) != list(dataset.class_names) or trained != dataset.label_to_category_id:
        raise DataError(
            f"{dataset.ann_file} has classes {list(dataset.class_names)} but {source} was trained on "
            f"{list(checkpoint['class_names'])} (category ids must match too)"
        )


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="python -m detector.evaluate", description="COCO box AP of a trained or exported FBNetV3OD.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", type=Path, help="model_final.pt or last.pt of a training run")
    source.add_argument("--model", type=Path, help="an ONNX file written by detector.export (fp32 or --int8), run with ONNX Runtime")
    parser.add_argument("--data", type=Path, help="data folder with images/, train.json, val.json")
    parser.add_argument("--split", choices=("val", "train"), default="val", help="which DIR/<split>.json to use (default val)")
    parser.add_argument("--val-json", type=Path, help="annotation file (instead of --data)")
    parser.add_argument("--val-images", type=Path, help="image folder of --val-json (default: images/ next to it)")
    parser.add_argument("--output", type=Path, help="metrics JSON (default: eval_<split>.json next to the checkpoint, <model>_eval_<split>.json for --model)")
    parser.add_argument(
        "--batch-size", type=int,
        help="images per forward pass (default: the training run's train.batch_size, which reproduces the val AP the training "
             "logged: torchvision pads a batch to its largest image, and the padding moves AP slightly)",
    )
    parser.add_argument("--num-workers", type=int, default=0)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                        help="cpu or cuda (default: cuda when available; --model always runs on the CPU)")
    parser.add_argument("--threads", type=int, help="ONNX Runtime intra-op threads for --model (default: ONNX Runtime's)")
    parser.add_argument("--no-ema", action="store_true", help="use the raw weights even when the checkpoint has EMA weights")
    return parser


@run_cli
def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    from core.atomic import atomic_write_text
    from detector.data import CocoDetection

    args = build_parser().parse_args(argv)
    if args.batch_size is not None and args.batch_size < 1:
        raise DataError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.threads is not None and args.threads < 1:
        raise DataError(f"--threads must be >= 1, got {args.threads}")
    if args.model is not None:
        args.device = "cpu"
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise DataError("--device cuda: no CUDA device is available; use --device cpu")
    ann_file, image_dir = _dataset_for(args)
    from detector.exported import open_for_inference

    opened = open_for_inference(args.checkpoint, args.model, device=args.device, use_ema=not args.no_ema, threads=args.threads)
    batch_size = args.batch_size or opened.eval_batch_size
    classes = {"class_names": opened.class_names, "label_to_category_id": opened.label_to_category_id}
    source = args.model or args.checkpoint
    dataset = CocoDetection(ann_file, image_dir)
    _check_classes(classes, dataset, source)
    metrics = evaluate_coco(
        opened.model, dataset, batch_size=batch_size, device=args.device, num_workers=args.num_workers, progress=sys.stderr.isatty(),
    )
    report = {
        "checkpoint" if args.model is None else "model": str(source), "annotations": str(ann_file), "split": args.split,
        "num_images": len(dataset), "weights": opened.weights, "batch_size": batch_size, **metrics,
    }
    default = args.model.with_name(f"{args.model.stem}_eval_{args.split}.json") if args.model else args.checkpoint.parent / f"eval_{args.split}.json"
    output = args.output or default
    atomic_write_text(output, json.dumps(json_safe(report), indent=2) + "\n")
    print(f"{source} ({opened.weights} weights) on {ann_file} ({len(dataset)} images, batches of {batch_size})")
    print(format_metrics_table(metrics))
    print(f"wrote {output}")
    return report


if __name__ == "__main__":
    main()
