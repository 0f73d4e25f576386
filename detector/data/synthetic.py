"""A small synthetic COCO data set of coloured shapes, for the quickstart and the tests.

Large, flat-coloured shapes on a smooth background are learnable by a small detector in minutes
on a CPU, so the whole pipeline can be exercised without downloading anything. The layout is that
of the raccoon set (`images/`, `train.json`, `val.json`), and a seed fixes every byte.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from core.errors import UserError

GENERATOR = "detector.synthetic"
MIN_SIZE, MAX_SIZE = 24, 90
_IMAGE_NAME = re.compile(r"(train|val|test)_\d{6}\.png")

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive)


def _circle(draw: ImageDraw.ImageDraw, box: Box) -> None:
    draw.ellipse((box[0], box[1], box[2] - 1, box[3] - 1), fill=255)


def _square(draw: ImageDraw.ImageDraw, box: Box) -> None:
    draw.rectangle((box[0], box[1], box[2] - 1, box[3] - 1), fill=255)


def _triangle(draw: ImageDraw.ImageDraw, box: Box) -> None:
    x0, y0, x1, y1 = box
    draw.polygon([((x0 + x1 - 1) / 2, y0), (x0, y1 - 1), (x1 - 1, y1 - 1)], fill=255)


def _diamond(draw: ImageDraw.ImageDraw, box: Box) -> None:
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1 - 1) / 2, (y0 + y1 - 1) / 2
    draw.polygon([(cx, y0), (x1 - 1, cy), (cx, y1 - 1), (x0, cy)], fill=255)


def _cross(draw: ImageDraw.ImageDraw, box: Box) -> None:
    x0, y0, x1, y1 = box
    t = max((x1 - x0) // 3, 1)
    draw.rectangle((x0 + t, y0, x1 - 1 - t, y1 - 1), fill=255)
    draw.rectangle((x0, y0 + t, x1 - 1, y1 - 1 - t), fill=255)


SHAPES: dict[str, Callable[[ImageDraw.ImageDraw, Box], None]] = {
    "circle": _circle,
    "square": _square,
    "triangle": _triangle,
    "diamond": _diamond,
    "cross": _cross,
}


def _background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Linear gradient between two random colours in a random direction, plus mild noise."""
    c0, c1 = rng.uniform(0, 255, size=(2, 3))
    angle = rng.uniform(0, 2 * math.pi)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    t = xx * math.cos(angle) + yy * math.sin(angle)
    t = (t - t.min()) / max(t.max() - t.min(), 1e-6)
    image = c0 * (1 - t[..., None]) + c1 * t[..., None] + rng.normal(0, 6, size=(height, width, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


def _contrasting_colour(rng: np.random.Generator, region: np.ndarray) -> tuple[int, int, int]:
    """A random colour far (L1 >= 200) from the region's mean, so shapes stand out."""
    mean = region.reshape(-1, 3).mean(axis=0)
    for _ in range(50):
        colour = rng.integers(0, 256, size=3)
        if np.abs(colour - mean).sum() >= 200:
            return tuple(int(c) for c in colour)
    return tuple(int(c) for c in np.where(mean < 128, 255, 0))


def _overlaps(box: Box, others: Sequence[Box], margin: int = 3) -> bool:
    return any(
        box[0] < o[2] + margin and o[0] < box[2] + margin and box[1] < o[3] + margin and o[1] < box[3] + margin
        for o in others
    )


def _draw_image(
    rng: np.random.Generator, height: int, width: int, classes: Sequence[str], first_class: int, max_objects: int
) -> tuple[Image.Image, list[tuple[int, list[float]]]]:
    """One image and its (class index, tight xywh box) list; shapes never overlap, so boxes stay tight."""
    canvas = _background(rng, height, width)
    objects: list[tuple[int, list[float]]] = []
    placed: list[Box] = []
    largest = min(MAX_SIZE, height - 2, width - 2)
    for k in range(int(rng.integers(1, max_objects + 1))):
        cls = first_class if k == 0 else int(rng.integers(len(classes)))
        for _ in range(30):
            size = int(rng.integers(MIN_SIZE, largest + 1))
            x0, y0 = int(rng.integers(0, width - size + 1)), int(rng.integers(0, height - size + 1))
            box = (x0, y0, x0 + size, y0 + size)
            if not _overlaps(box, placed):
                break
        else:
            continue  # no free spot: fewer objects in this image
        mask = Image.new("L", (width, height), 0)
        SHAPES[classes[cls]](ImageDraw.Draw(mask), box)
        mask_array = np.asarray(mask) > 0
        colour = _contrasting_colour(rng, canvas[box[1] : box[3], box[0] : box[2]])
        canvas[mask_array] = colour
        bx0, by0, bx1, by1 = mask.getbbox()  # tight box of the drawn pixels
        placed.append(box)
        objects.append((cls, [float(bx0), float(by0), float(bx1 - bx0), float(by1 - by0)]))
    return Image.fromarray(canvas, "RGB"), objects


def _is_previous_set(directory: Path) -> bool:
    """True if `directory` holds only what an earlier run of this generator wrote."""
    try:
        info = json.loads((directory / "train.json").read_text()).get("info", {})
    except (OSError, ValueError, AttributeError):
        return False
    return isinstance(info, dict) and info.get("generator") == GENERATOR


def _prepare_output(directory: Path, force: bool) -> None:
    if directory.exists() and not directory.is_dir():
        raise UserError(f"output {directory} exists and is not a folder")
    if directory.is_dir() and any(directory.iterdir()) and not force and not _is_previous_set(directory):
        raise UserError(
            f"output folder {directory} is not empty and holds no earlier synthetic set; use --force to write into it"
        )
    (directory / "images").mkdir(parents=True, exist_ok=True)
    for stale in (directory / "images").iterdir():  # only files this generator names, never user files
        if _IMAGE_NAME.fullmatch(stale.name) and stale.is_file():
            stale.unlink()


def _check_args(
    num_train: int, num_val: int, image_size: Sequence[int], classes: Sequence[str], max_objects: int
) -> None:
    if num_train < 1 or num_val < 0:
        raise UserError(f"need num_train >= 1 and num_val >= 0, got {num_train} and {num_val}")
    if len(image_size) != 2 or min(image_size) < MIN_SIZE + 8:
        raise UserError(f"image_size must be (height, width), each >= {MIN_SIZE + 8}, got {tuple(image_size)}")
    unknown = [c for c in classes if c not in SHAPES]
    if not classes or unknown or len(set(classes)) != len(classes):
        raise UserError(f"classes must be distinct names from {', '.join(SHAPES)}; got {list(classes)}")
    if max_objects < 1:
        raise UserError(f"max_objects must be >= 1, got {max_objects}")


def generate_synthetic_coco(
    output_dir: str | Path,
    num_train: int = 48,
    num_val: int = 16,
    image_size: tuple[int, int] = (192, 256),
    classes: Sequence[str] = ("circle", "square", "triangle"),
    seed: int = 0,
    max_objects: int = 4,
    force: bool = False,
    num_test: int = 0,
) -> Path:
    """Write `images/*.png`, `train.json`, `val.json` (and `test.json` with `num_test` images: a split that a
    search and a training never look at, to measure a winner on) under `output_dir` and return it.

    Image ids and annotation ids are unique across the files; category ids start at 1. Image i's
    first shape cycles through the classes, so every class occurs in every split when they hold at
    least as many images as classes. The test images are drawn after the others: the same seed gives the
    same train and val images with or without them. Refuses a non-empty folder that is not an earlier
    synthetic set unless `force`.
    """
    _check_args(num_train, num_val, image_size, classes, max_objects)
    if num_test < 0:
        raise UserError(f"need num_test >= 0, got {num_test}")
    directory = Path(output_dir)
    _prepare_output(directory, force)
    height, width = int(image_size[0]), int(image_size[1])
    rng = np.random.default_rng(seed)
    categories = [{"id": i + 1, "name": name, "supercategory": "shape"} for i, name in enumerate(classes)]
    ann_id = 0
    image_id = 0
    (directory / "test.json").unlink(missing_ok=True)  # an earlier set's test split, when this one has none
    for split, count in (("train", num_train), ("val", num_val), *((("test", num_test),) if num_test else ())):
        images: list[dict[str, Any]] = []
        annotations: list[dict[str, Any]] = []
        for i in range(count):
            image_id += 1
            image, objects = _draw_image(rng, height, width, classes, i % len(classes), max_objects)
            file_name = f"{split}_{i:06d}.png"
            image.save(directory / "images" / file_name)
            images.append({"id": image_id, "file_name": file_name, "width": width, "height": height})
            for cls, bbox in objects:
                ann_id += 1
                annotations.append(
                    {"id": ann_id, "image_id": image_id, "category_id": cls + 1, "bbox": bbox,
                     "area": bbox[2] * bbox[3], "iscrowd": 0}
                )
        dataset = {
            "info": {"description": f"synthetic shapes ({split} split)", "generator": GENERATOR, "seed": seed},
            "images": images,
            "annotations": annotations,
            "categories": categories,
        }
        (directory / f"{split}.json").write_text(json.dumps(dataset, indent=1) + "\n")
    return directory
