"""`python -m detector.evaluate`: COCO box AP of a trained or exported detector (`detector.evaluation.coco`),
printed as a table and written as JSON (an undefined metric, e.g. APs without small objects, is null).

    python -m detector.evaluate --checkpoint OUT/model_final.pt --data DIR [--split val|train]
    python -m detector.evaluate --model model_int8.onnx --data DIR     # an exported file, fp32 or int8
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.cli import ArgumentParser
from core.errors import DataError, run_cli


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
    parser.add_argument("--device", help="cpu or cuda (default: cuda when available; --model always runs on the CPU)")
    parser.add_argument("--threads", type=int, help="ONNX Runtime intra-op threads for --model (default: ONNX Runtime's)")
    parser.add_argument("--no-ema", action="store_true", help="use the raw weights even when the checkpoint has EMA weights")
    return parser


@run_cli
def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = build_parser().parse_args(argv)
    # torch, pycocotools and the detector only now: `--help` and a bad flag answer at once
    import torch

    from core.atomic import atomic_write_text
    from detector.data.dataset import CocoDetection
    from detector.deploy.runner import open_for_inference
    from detector.evaluation.coco import evaluate_coco, format_metrics_table, json_safe
    from detector.training.distributed import default_device

    if args.batch_size is not None and args.batch_size < 1:
        raise DataError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.threads is not None and args.threads < 1:
        raise DataError(f"--threads must be >= 1, got {args.threads}")
    args.device = "cpu" if args.model is not None else args.device or default_device()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise DataError("--device cuda: no CUDA device is available; use --device cpu")
    ann_file, image_dir = _dataset_for(args)
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
