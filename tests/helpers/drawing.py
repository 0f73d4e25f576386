"""Does a PNG written by `detector.predict` show the detections its predictions.json lists? Shared by the
predict CLI test and the int8 test (`detector.predict --model`)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image


def _pixels(path: Path) -> torch.Tensor:
    with Image.open(path) as image:
        return torch.frombuffer(bytearray(image.convert("RGB").tobytes()), dtype=torch.uint8).view(image.height, image.width, 3)


def source_pixels(path: Path) -> torch.Tensor:
    """[H, W, 3] uint8 image that the CLI draws on: decoded like the model's input, rounded to 8 bits."""
    from detector.data.images import load_rgb_image

    return (load_rgb_image(path) * 255).round().to(torch.uint8).permute(1, 2, 0)


def assert_detections_drawn(drawn_png: Path, source: Path, detections: Sequence[dict[str, Any]],
                            colors: Mapping[int, tuple[int, int, int]]) -> int:
    """Assert that `drawn_png` is `source` with `detections` (its predictions.json entries, in drawing order;
    `colors`: category id -> class colour) drawn on it; returns how many untouched pixels were compared.

    - The left and top outline of the last detection (drawn last, so on top of the others) is entirely its class
      colour. `draw_bounding_boxes` draws lines >= 2 px wide inward from the truncated corners and puts the filled
      tag inside the box from 1 px past that line, so those two sides are never covered by its own tag. The JSON's
      2-decimal rounding moves an edge by at most 0.01 px: column floor(x + 0.5) (row floor(y + 0.5)) lies in the
      line whichever way it moved, as do rows (columns) floor(y0 + 0.5) .. floor(y1 - 0.5).
    - Every pixel above or left of all boxes (1 px margin), where neither outlines nor tags (drawn right of and
      below a box's corner) reach, equals the source.
    """
    image, original = _pixels(drawn_png), source_pixels(source)
    assert image.shape == original.shape, f"{drawn_png.name}: {tuple(image.shape)} vs source {tuple(original.shape)}"
    height, width = image.shape[:2]
    if detections:
        x, y, w, h = detections[-1]["bbox"]
        left, top = min(math.floor(x + 0.5), width - 1), min(math.floor(y + 0.5), height - 1)
        right, bottom = min(math.floor(x + w - 0.5), width - 1), min(math.floor(y + h - 0.5), height - 1)
        outline = torch.cat([image[top : bottom + 1, left], image[top, left : right + 1]])
        color = torch.tensor(colors[detections[-1]["category_id"]], dtype=torch.uint8)
        assert len(outline) > 0 and (outline == color).all(), f"{drawn_png.name}: the last box's outline is not {tuple(color.tolist())}"
        rows, cols = torch.arange(height)[:, None], torch.arange(width)[None, :]
        above = min(math.floor(d["bbox"][1]) for d in detections) - 1
        before = min(math.floor(d["bbox"][0]) for d in detections) - 1
        untouched = (rows < above) | (cols < before)
    else:
        untouched = torch.ones(height, width, dtype=torch.bool)
    assert torch.equal(image[untouched], original[untouched]), f"{drawn_png.name}: pixels away from every box were changed"
    return int(untouched.sum())
