"""Does a PNG written by `detector.predict` show the detections its predictions.json lists, on the image upscaled
for reading? Shared by the predict CLI test and the int8 test (`detector.predict --model`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from detector.evaluation.drawing import Rect, class_colors, layout_detections

MIN_SHORT_SIDE = 512  # what a reader is promised: a drawing's short side is at least this


def _pixels(path: Path) -> torch.Tensor:
    with Image.open(path) as image:
        return torch.frombuffer(bytearray(image.convert("RGB").tobytes()), dtype=torch.uint8).view(image.height, image.width, 3)


def source_pixels(path: Path) -> torch.Tensor:
    """[H, W, 3] uint8 image that the CLI draws on: decoded like the model's input, rounded to 8 bits."""
    from detector.data.images import load_rgb_image

    return (load_rgb_image(path) * 255).round().to(torch.uint8).permute(1, 2, 0)


def _covers(rects: Sequence[Rect], height: int, width: int, margin: int) -> torch.Tensor:
    """[H, W] mask of `rects` grown by `margin` px on every side (shrunk for a negative margin)."""
    mask = torch.zeros(height, width, dtype=torch.bool)
    for x0, y0, x1, y1 in rects:
        mask[max(y0 - margin, 0) : max(y1 + margin, 0), max(x0 - margin, 0) : max(x1 + margin, 0)] = True
    return mask


def _outline_owners(boxes: Sequence[Rect], line_width: int, height: int, width: int) -> torch.Tensor:
    """[H, W] index of the box whose outline surely shows at a pixel, -1 elsewhere: a line is `line_width` px inside
    its rectangle, minus 1 px on each side for rounding, and any pixel a later line may reach belongs to that line."""
    owners = torch.full((height, width), -1, dtype=torch.int64)
    for i, box in enumerate(boxes):
        maybe = _covers([box], height, width, 1) & ~_covers([box], height, width, -line_width - 1)
        surely = _covers([box], height, width, -1) & ~_covers([box], height, width, -line_width + 1)
        owners[maybe] = -1
        owners[surely] = i
    return owners


def assert_detections_drawn(drawn_png: Path, source: Path, detections: Sequence[dict[str, Any]], class_names: Sequence[str]) -> int:
    """Assert that `drawn_png` is `source` upscaled (bilinear) to a short side of at least 512 px with `detections`
    (its predictions.json entries, in drawing order; category ids are labels) drawn on it; returns how many untouched
    pixels were compared.

    Where the boxes and tags go is `layout_detections` of the JSON's boxes, whose 2-decimal rounding moves an edge by
    less than half a drawing pixel, so every check keeps 1 px from a computed edge:
    - every outline pixel that no later line or tag may cover has its box's class colour (lines >= 3 px wide), and
      some such pixel exists;
    - every tag lies inside the image, and one that no later tag covers is filled with its class colour (its text
      covers less than half of it);
    - every pixel away from all boxes and tags equals the upscaled source.
    """
    image = _pixels(drawn_png)
    original = source_pixels(source)
    height, width = original.shape[:2]
    scale = max(1.0, MIN_SHORT_SIDE / min(height, width))
    assert image.shape[:2] == (round(height * scale), round(width * scale)), f"{drawn_png.name}: {tuple(image.shape)} for a {width}x{height} source"
    out_h, out_w = image.shape[:2]
    expected = torch.from_numpy(np.array(Image.fromarray(original.numpy()).resize((out_w, out_h), Image.Resampling.BILINEAR)))
    boxes = torch.tensor([[x, y, x + w, y + h] for x, y, w, h in (d["bbox"] for d in detections)]).reshape(-1, 4)
    labels = torch.tensor([d["category_id"] for d in detections], dtype=torch.int64)
    layout = layout_detections(height, width, boxes, labels, torch.tensor([d["score"] for d in detections]), class_names)
    assert layout.size == (out_h, out_w)
    tags = _covers(layout.tag_rects, out_h, out_w, margin=1)
    colors = dict(enumerate(class_colors(len(class_names)), start=1))
    if detections:
        owners = _outline_owners(layout.boxes, layout.line_width, out_h, out_w)
        owners[tags] = -1
        palette = torch.tensor([colors[d["category_id"]] for d in detections], dtype=torch.uint8)
        shown = owners >= 0
        assert shown.any(), f"{drawn_png.name}: no outline pixel is left to check"
        wrong = (image[shown] != palette[owners[shown]]).any(dim=1)
        assert not wrong.any(), f"{drawn_png.name}: {int(wrong.sum())} outline pixels are not their box's class colour"
        for i, ((x0, y0, x1, y1), d) in enumerate(zip(layout.tag_rects, detections)):
            assert 0 <= x0 < x1 <= out_w and 0 <= y0 < y1 <= out_h, f"{drawn_png.name}: tag {(x0, y0, x1, y1)} leaves the image"
            if _covers(layout.tag_rects[i + 1 :], out_h, out_w, margin=1)[y0:y1, x0:x1].any():
                continue  # a crowded column: a later tag covers part of this one
            inner = image[y0 + 1 : y1 - 1, x0 + 1 : x1 - 1].reshape(-1, 3)
            fill = (inner == torch.tensor(colors[d["category_id"]], dtype=torch.uint8)).all(dim=1).float().mean()
            assert fill > 0.5, f"{drawn_png.name}: the tag of {d['category_name']} {d['score']} is not filled with its class colour"
    untouched = ~(tags | _covers(layout.boxes, out_h, out_w, margin=1))
    assert torch.equal(image[untouched], expected[untouched]), f"{drawn_png.name}: pixels away from every box and tag were changed"
    return int(untouched.sum())
