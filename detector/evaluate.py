"""`python -m detector.evaluate`: COCO box AP of a trained or exported detector (`detector.evaluation.coco`),
printed as a table and written as JSON (an undefined metric, e.g. APs without small objects, is null), with AP and AP50
per class and their image and instance counts, and figures beside the JSON (`detector.evaluation.figures`: PR curves,
confusion matrix, ground truth | predictions sheet; `--no-plots` skips them).

    python -m detector.evaluate --checkpoint OUT/model_final.pt --data DIR [--split val|train|test]
    python -m detector.evaluate --checkpoint OUT/model_final.pt --json FILE [--images DIR]    # any COCO file
    python -m detector.evaluate --model model_int8.onnx --data DIR     # an exported file, fp32 or int8

The report is named after the split it measured (`eval_test.json` for `--split test` or `--json .../test.json`),
so that evaluating one split never overwrites another's.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.cli import ArgumentParser
from core.errors import DataError, run_cli


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
    source.add_argument("--checkpoint", type=Path, help="model_final.pt or last.pt of a training run (this or --model is required)")
    source.add_argument("--model", type=Path, help="an ONNX file written by detector.export (fp32 or --int8), run with ONNX Runtime")
    parser.add_argument("--data", type=Path,
                        help="data folder: DIR/images/, DIR/train.json, DIR/val.json, optional DIR/test.json (needed unless --json)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--split", choices=("val", "train", "test"), default="val", help="evaluate DIR/<split>.json (default val)")
    which.add_argument("--json", "--val-json", dest="json", type=Path, metavar="FILE",
                       help="any COCO annotation file instead of --split; the split is named after it (test.json -> test). "
                            "--val-json is its old name")
    parser.add_argument("--images", "--val-images", dest="images", type=Path, metavar="DIR",
                        help="image folder (default: DIR/images of --data, else images/ beside --json); --val-images is its old name")
    parser.add_argument("--output", type=Path,
                        help="report JSON (default: eval_<split>.json beside the checkpoint, <model>_eval_<split>.json for --model)")
    parser.add_argument(
        "--batch-size", type=int,
        help="images per forward pass (default: the training run's train.batch_size, which reproduces the val AP the training "
             "logged: torchvision pads a batch to its largest image, and the padding moves AP slightly)",
    )
    parser.add_argument("--num-workers", type=int, default=0, help="image loading processes (default 0: load in this process)")
    parser.add_argument("--device", help="cpu or cuda (default: cuda when available; --model always runs on the CPU)")
    parser.add_argument("--threads", type=int, help="ONNX Runtime intra-op threads for --model (default: ONNX Runtime's)")
    parser.add_argument("--no-ema", action="store_true",
                        help="use the raw weights even when the checkpoint has EMA weights (default: the EMA weights when present)")
    parser.add_argument("--no-plots", action="store_true",
                        help="write no figures (default: <report>_pr_curve.png, <report>_confusion.png, <report>_samples.png beside it)")
    parser.add_argument("--score-thresh", type=float, default=0.25,
                        help="score from which a detection counts in the confusion matrix and is drawn on the samples sheet "
                             "(default 0.25; AP uses every score)")
    parser.add_argument("--samples", type=int, default=6, help="images on the ground truth | predictions sheet (default 6; 0: no sheet)")
    return parser


@run_cli
def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = build_parser().parse_args(argv)
    from detector.data.paths import split_files

    split = split_files(args.data, args.split, args.json, args.images)  # a missing file answers before the imports below
    # torch, pycocotools and the detector only now: `--help` and a bad flag answer at once
    import torch

    from detector.data.dataset import CocoDetection
    from detector.deploy.runner import open_for_inference
    from detector.evaluation.coco import coco_evaluation, format_metrics_table
    from detector.evaluation.split_report import report_name, split_report, write_report
    from detector.training.distributed import default_device

    if args.batch_size is not None and args.batch_size < 1:
        raise DataError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.threads is not None and args.threads < 1:
        raise DataError(f"--threads must be >= 1, got {args.threads}")
    if not 0.0 <= args.score_thresh <= 1.0 or args.samples < 0:
        raise DataError(f"--score-thresh must be in [0, 1] and --samples >= 0, got {args.score_thresh} and {args.samples}")
    args.device = "cpu" if args.model is not None else args.device or default_device()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise DataError("--device cuda: no CUDA device is available; use --device cpu")
    opened = open_for_inference(args.checkpoint, args.model, device=args.device, use_ema=not args.no_ema, threads=args.threads)
    batch_size = args.batch_size or opened.eval_batch_size
    classes = {"class_names": opened.class_names, "label_to_category_id": opened.label_to_category_id}
    source = args.model or args.checkpoint
    dataset = CocoDetection(split.ann_file, split.image_dir)
    _check_classes(classes, dataset, source)
    evaluation = coco_evaluation(
        opened.model, dataset, batch_size=batch_size, device=args.device, num_workers=args.num_workers, progress=sys.stderr.isatty(),
    )
    metrics = {**evaluation.metrics, "per_class": evaluation.per_class}
    report = split_report(evaluation, source=source, exported=args.model is not None, ann_file=split.ann_file, split=split.name,
                          num_images=len(dataset), weights=opened.weights, batch_size=batch_size)
    name = report_name(split.name)
    output = args.output or (args.model.with_name(f"{args.model.stem}_{name}") if args.model else args.checkpoint.parent / name)
    write_report(report, output)
    print(f"{source} ({opened.weights} weights) on {split.name} split {split.ann_file} ({len(dataset)} images, batches of {batch_size})")
    print(format_metrics_table(metrics, evaluation.per_class))
    print(f"wrote {output}")
    if not args.no_plots:
        from detector.evaluation.figures import write_report_figures

        for path in write_report_figures(evaluation, dataset, output, score_thresh=args.score_thresh, num_samples=args.samples):
            print(f"wrote {path}")
    return report


if __name__ == "__main__":
    main()
