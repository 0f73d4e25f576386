"""Run a trained FBNetV3OD on image files; draw the detections to PNGs and list them as JSON.

    python -m detector.predict --checkpoint run/model_final.pt --images photos/ --output preds/
    python -m detector.predict --model model_int8.onnx --images photos/ --output preds/   # an exported file

Images are decoded like the training data (`detector.data.load_rgb_image`: any Pillow mode to RGB,
stored orientation), so boxes refer to the same pixels the model was trained on. Unreadable files
are skipped with a warning rather than ending a long run.
"""

from __future__ import annotations

import argparse
import colorsys
import json
import logging
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torchvision.io import write_png
from torchvision.ops import box_convert
from torchvision.utils import draw_bounding_boxes
from tqdm import tqdm

from core.atomic import atomic_write_text
from core.cli import ArgumentParser
from core.errors import DataError, UserError, run_cli

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def find_images(inputs: Sequence[str | Path]) -> list[Path]:
    """Expand files and folders (not recursive) into a sorted, de-duplicated list of image paths."""
    found: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            found.extend(sorted(p for p in item.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS))
        elif item.is_file():
            found.append(item)  # named explicitly: tried whatever its extension
        else:
            raise UserError(f"--images: {item} does not exist")
    return list(dict.fromkeys(found))


def class_colors(num_classes: int) -> list[tuple[int, int, int]]:
    """One saturated colour per class, hues spread by the golden ratio so neighbours differ."""
    colors = []
    for i in range(num_classes):
        r, g, b = colorsys.hsv_to_rgb((i * 0.618033988749895) % 1.0, 0.85, 0.95)
        colors.append((round(r * 255), round(g * 255), round(b * 255)))
    return colors


def _font_path() -> str | None:
    """DejaVu Sans from matplotlib (a dependency): torchvision ignores `font_size` without a TrueType file."""
    try:
        import matplotlib

        path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
        return str(path) if path.is_file() else None
    except ImportError:
        return None


def draw_detections(
    image: Tensor,
    boxes: Tensor,
    labels: Tensor,
    scores: Tensor,
    class_names: Sequence[str],
    font_size: int | None = None,
    line_width: int | None = None,
) -> Tensor:
    """Boxes with "name score" tags on a uint8 RGB [3, H, W] image; sizes scale with the image."""
    if image.dtype != torch.uint8:
        image = (image.clamp(0, 1) * 255).round().to(torch.uint8)
    if len(boxes) == 0:
        return image
    short_side = min(image.shape[-2:])
    font_size = font_size or max(11, round(short_side / 30))
    line_width = line_width or max(2, round(short_side / 200))
    palette = class_colors(len(class_names))
    colors = [palette[(int(label) - 1) % len(palette)] for label in labels]
    tags = [f"{_name(class_names, int(label))} {float(score):.2f}" for label, score in zip(labels, scores)]
    font = _font_path()
    return draw_bounding_boxes(
        image,
        boxes.cpu(),
        labels=tags,
        colors=colors,
        width=line_width,
        font=font,
        font_size=font_size if font else None,
        fill_labels=True,
        label_colors=[_text_color(c) for c in colors],
    )


def _text_color(background: tuple[int, int, int]) -> tuple[int, int, int]:
    """Black on light tags, white on dark ones (ITU-R 601 luma)."""
    r, g, b = background
    return (0, 0, 0) if 0.299 * r + 0.587 * g + 0.114 * b > 140 else (255, 255, 255)


def _name(class_names: Sequence[str], label: int) -> str:
    return class_names[label - 1] if 1 <= label <= len(class_names) else f"class{label}"


def _load(path: Path) -> Tensor | str:
    """Float RGB image, or the reason it cannot be read."""
    from detector.data import load_rgb_image

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
    parser.add_argument("--images", required=True, nargs="+", help="image files and/or folders")
    parser.add_argument("--output", required=True, help="folder for <stem>.png and predictions.json")
    parser.add_argument("--score-thresh", type=float, default=0.5, help="keep detections scoring at least this")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="cpu, cuda, cuda:1, ...")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--no-ema", action="store_true", help="use the raw weights even when EMA weights are saved")
    args = parser.parse_args(argv)
    if not 0.0 <= args.score_thresh <= 1.0:
        parser.error(f"--score-thresh must be in [0, 1], got {args.score_thresh}")
    if args.batch_size < 1:
        parser.error(f"--batch-size must be >= 1, got {args.batch_size}")
    return args


@run_cli
def main(argv: Sequence[str] | None = None) -> None:
    from detector.exported import open_for_inference

    args = parse_args(argv)
    if args.model:
        args.device = "cpu"
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
        boxes, labels, scores = item["boxes"], item["labels"], item["scores"]
        canvas = draw_detections((item["image"] * 255).round().to(torch.uint8), boxes, labels, scores, class_names)
        write_png(canvas, str(output / names[item["path"]]))
        results.extend(to_coco_results(item["path"].name, boxes, labels, scores, class_names, category_ids))
        drawn += 1
    if drawn == 0:
        raise DataError(f"none of the {len(paths)} image files could be read (first: {paths[0]})")
    atomic_write_text(output / "predictions.json", "[\n" + ",\n".join(json.dumps(r) for r in results) + "\n]\n")  # one per line
    note = f", skipped {skipped} unreadable" if skipped else ""
    print(f"{drawn} images, {len(results)} detections (score >= {args.score_thresh}){note}: PNGs and predictions.json in {output}")


if __name__ == "__main__":
    main()
