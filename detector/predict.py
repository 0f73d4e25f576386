"""Run a trained FBNetV3OD on image files; draw the detections to PNGs and list them as JSON.

    python -m detector.predict --checkpoint run/model_final.pt --images photos/ --output preds/
    python -m detector.predict --model model_int8.onnx --images photos/ --output preds/   # an exported file
    python -m detector.predict --checkpoint ... --data DIR --split val --output preds/  # the images of DIR/val.json
    python -m detector.predict --checkpoint ... --json FILE [--images DIR] --output preds/  # the images of any COCO file

Images are decoded like the training data (`detector.data.images.load_rgb_image`: any Pillow mode to RGB,
stored orientation), so boxes refer to the same pixels the model was trained on. Unreadable files
are skipped with a warning rather than ending a long run. The PNGs are drawn at least 512 px on the short side
(`detector.evaluation.drawing`); predictions.json keeps the images' own pixels.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.atomic import atomic_open, atomic_write_text
from core.cli import ArgumentParser
from core.errors import DataError, UserError, run_cli


def _output_names(paths: Sequence[Path]) -> dict[Path, str]:
    """`<stem>.png` per image; a clash (a.jpg and a.png, or same name in two folders) gets a suffix."""
    names: dict[Path, str] = {}
    used: set[str] = set()
    for path in paths:
        name, n = f"{path.stem}.png", 1
        while name in used:
            name, n = f"{path.stem}_{n}.png", n + 1
        used.add(name)
        names[path] = name
    return names


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = ArgumentParser(prog="python -m detector.predict", description=__doc__.split("\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", help="checkpoint written by detector.train")
    source.add_argument("--model", help="ONNX file written by detector.export (fp32 or int8; runs on the CPU with ONNX Runtime)")
    parser.add_argument("--images", nargs="+", metavar="PATH",
                        help="image files and/or folders; with --json or --data: the image folder (default: DIR/images of --data, "
                             "else images/ beside --json)")
    parser.add_argument("--data", type=Path, metavar="DIR", help="data folder (DIR/images/, DIR/<split>.json): predict the images of one split")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--split", choices=("val", "train", "test"), help="with --data: whose images, DIR/<split>.json (default val)")
    which.add_argument("--json", type=Path, metavar="FILE", help="COCO annotation file: predict only the images it lists (e.g. val.json)")
    parser.add_argument("--output", required=True, help="folder for <stem>.png and predictions.json")
    parser.add_argument("--score-thresh", type=float, default=0.5, help="keep detections scoring at least this (default 0.5)")
    parser.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: cuda when available; --model always runs on the CPU)")
    parser.add_argument("--batch-size", type=int, default=4, help="images per forward pass (default 4)")
    parser.add_argument("--no-ema", action="store_true", help="use the raw weights even when EMA weights are saved")
    args = parser.parse_args(argv)
    if not 0.0 <= args.score_thresh <= 1.0:
        parser.error(f"--score-thresh must be in [0, 1], got {args.score_thresh}")
    if args.batch_size < 1:
        parser.error(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.images is None and args.data is None and args.json is None:
        parser.error("give the images: --images PATH..., --data DIR [--split val], or --json FILE")
    if args.split is not None and args.data is None:
        parser.error("--split needs --data DIR (its DIR/<split>.json)")
    if (args.data or args.json) and args.images is not None and len(args.images) > 1:
        parser.error(f"with --{'data' if args.data else 'json'}, --images is one image folder, got {len(args.images)} paths")
    return args


@run_cli
def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    # torch and the detector only now: `--help` and a bad flag answer at once
    import torch
    from torchvision.transforms.v2.functional import to_pil_image
    from tqdm import tqdm

    from detector.data.coco_json import read_coco
    from detector.data.images import IMAGE_EXTENSIONS, find_images
    from detector.data.paths import split_files
    from detector.deploy.predictions import iter_predictions, to_coco_results
    from detector.deploy.runner import open_for_inference
    from detector.evaluation.drawing import draw_detections
    from detector.training.distributed import default_device

    args.device = "cpu" if args.model else args.device or default_device()
    if args.data or args.json:
        split = split_files(args.data, args.split or "val", args.json, args.images[0] if args.images else None)
        paths = [split.image_dir / image["file_name"] for image in read_coco(split.ann_file).dataset["images"]]
        if not paths:
            raise UserError(f"{split.ann_file} lists no images")
    else:
        paths = find_images(args.images)
        if not paths:
            raise UserError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) found in {' '.join(args.images)}")
    if str(args.device).startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {args.device}: CUDA is not available on this machine")
    model, class_names, category_ids, *_ = open_for_inference(args.checkpoint, args.model, device=args.device, use_ema=not args.no_ema)

    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    names = _output_names(paths)
    results: list[dict[str, Any]] = []
    skipped = drawn = 0
    predictions = iter_predictions(model, paths, args.score_thresh, args.device, args.batch_size)
    for item in tqdm(predictions, total=len(paths), desc="predict", unit="img"):
        if "error" in item:
            skipped += 1
            tqdm.write(f"warning: skipped {item['error']}", file=sys.stderr)
            continue
        labels, scores = item["labels"], item["scores"]
        entries = to_coco_results(item["path"].name, item["boxes"], labels, scores, class_names, category_ids)
        # Drawn from the listed (rounded) boxes, so that the PNG and predictions.json agree to the pixel.
        boxes = torch.tensor([[x, y, x + w, y + h] for x, y, w, h in (e["bbox"] for e in entries)]).reshape(-1, 4)
        canvas = draw_detections((item["image"] * 255).round().to(torch.uint8), boxes, labels, scores, class_names)
        with atomic_open(output / names[item["path"]], "wb") as png:  # an interrupted run leaves no half-written PNG
            to_pil_image(canvas).save(png, format="PNG")
        results.extend(entries)
        drawn += 1
    if drawn == 0:
        raise DataError(f"none of the {len(paths)} image files could be read (first: {paths[0]})")
    atomic_write_text(output / "predictions.json", "[\n" + ",\n".join(json.dumps(r) for r in results) + "\n]\n")  # one per line
    note = f", skipped {skipped} unreadable" if skipped else ""
    print(f"{drawn} images, {len(results)} detections (score >= {args.score_thresh}){note}: PNGs and predictions.json in {output}")


if __name__ == "__main__":
    main()
