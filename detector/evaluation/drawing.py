"""Detections drawn on an image for people: a small image is upscaled first (a 96x128 image drawn at its own size
is unreadable), boxes scaled with it, one colour per class, and a filled "name score" tag per box, placed inside the
image where it covers no other tag, with text that stays readable on light and dark colours. Only the drawing is
scaled: detections and predictions.json stay in the image's own pixels."""

from __future__ import annotations

import colorsys
import functools
import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor
from torchvision.transforms.v2.functional import pil_to_tensor, to_pil_image

MIN_SHORT_SIDE = 512  # px: the short side a drawing is upscaled to (never downscaled)
Rect = tuple[int, int, int, int]  # x0, y0, x1, y1 in drawing pixels; x1, y1 exclusive


def class_colors(num_classes: int) -> list[tuple[int, int, int]]:
    """One saturated colour per class, hues spread by the golden ratio so neighbours differ."""
    colors = []
    for i in range(num_classes):
        r, g, b = colorsys.hsv_to_rgb((i * 0.618033988749895) % 1.0, 0.85, 0.95)
        colors.append((round(r * 255), round(g * 255), round(b * 255)))
    return colors


def _font_path() -> str | None:
    """DejaVu Sans shipped with matplotlib (a dependency), found without importing it (seconds); None without it."""
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]) / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
    return str(path) if path.is_file() else None


@functools.lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = _font_path()
    return ImageFont.truetype(path, size) if path else ImageFont.load_default(size)


def drawn_size(height: int, width: int, min_short_side: int = MIN_SHORT_SIDE) -> tuple[int, int]:
    """(height, width) of the drawing of a `height` x `width` image: upscaled until its short side is at least
    `min_short_side`, never downscaled (a photo is drawn at its own size)."""
    scale = max(1.0, min_short_side / min(height, width))
    return round(height * scale), round(width * scale)


def place_labels(boxes: Sequence[Rect], sizes: Sequence[tuple[int, int]], width: int, height: int) -> list[Rect]:
    """One tag rectangle of `sizes[i]` (width, height) per box, inside the `width` x `height` image.

    A tag starts at its box's left edge (further left where it would leave the image), above the box, or inside its
    top when there is no room above. A tag that would cover one placed before it moves to the nearest free position in
    its column (down on a tie), so the tags of overlapping boxes stack instead of hiding each other; only a column with
    no free room lets tags overlap. Earlier boxes (the higher scores, in detector order) get the preferred spots.
    """
    placed: list[Rect] = []
    for (x0, y0, _, _), (w, h) in zip(boxes, sizes):
        w, h = min(w, width), min(h, height)
        x = min(max(x0, 0), width - w)
        want = y0 - h if y0 >= h else min(y0, height - h)
        column = [r for r in placed if r[0] < x + w and x < r[2]]
        # The free spot nearest `want` is `want` itself or flush against a tag already in the column.
        spots = {want, *(r[3] for r in column), *(r[1] - h for r in column)}
        free = [y for y in spots if 0 <= y <= height - h and not any(r[1] < y + h and y < r[3] for r in column)]
        y = min(free, key=lambda y: (abs(y - want), -y)) if free else want
        placed.append((x, y, x + w, y + h))
    return placed


@dataclass(frozen=True)
class Layout:
    """Where a drawing puts everything, in its own pixels (`drawn_size`); what `draw_detections` renders."""

    size: tuple[int, int]  # height, width
    boxes: list[Rect]  # outlines, `line_width` px wide inside each rectangle
    tags: list[str]
    tag_rects: list[Rect]
    colors: list[tuple[int, int, int]]
    font_size: int
    line_width: int

    @property
    def padding(self) -> int:
        """Space between a tag's edge and its text."""
        return _padding(self.font_size)


def _padding(font_size: int) -> int:
    return max(1, font_size // 6)


def layout_detections(
    height: int,
    width: int,
    boxes: Tensor,
    labels: Tensor,
    scores: Tensor | None,
    class_names: Sequence[str],
    font_size: int | None = None,
    line_width: int | None = None,
    min_short_side: int = MIN_SHORT_SIDE,
) -> Layout:
    """The drawing of XYXY `boxes` (image pixels) on a `height` x `width` image: boxes scaled to the drawing, tags
    "name score" ("name" when `scores` is None: ground truth) placed by `place_labels`; font and line width grow with
    the drawing (16 px text and 3 px lines at the 512 px minimum)."""
    out_h, out_w = drawn_size(height, width, min_short_side)
    short_side = min(out_h, out_w)
    font_size = font_size or max(12, round(short_side / 32))
    line_width = line_width or max(3, round(short_side / 170))
    sx, sy = out_w / width, out_h / height
    rects = []
    for x0, y0, x1, y1 in boxes.tolist():
        left, top = min(max(round(x0 * sx), 0), out_w - 1), min(max(round(y0 * sy), 0), out_h - 1)
        rects.append((left, top, min(max(round(x1 * sx), left + 1), out_w), min(max(round(y1 * sy), top + 1), out_h)))
    names = [_name(class_names, int(label)) for label in labels]
    tags = names if scores is None else [f"{name} {float(score):.2f}" for name, score in zip(names, scores)]
    palette = class_colors(len(class_names))
    font = _font(font_size)
    ascent, descent = font.getmetrics()
    pad = _padding(font_size)
    sizes = [(int(font.getlength(tag)) + 1 + 2 * pad, ascent + descent + 2 * pad) for tag in tags]
    return Layout(
        size=(out_h, out_w),
        boxes=rects,
        tags=tags,
        tag_rects=place_labels(rects, sizes, out_w, out_h),
        colors=[palette[(int(label) - 1) % len(palette)] for label in labels],
        font_size=font_size,
        line_width=line_width,
    )


def draw_detections(
    image: Tensor,
    boxes: Tensor,
    labels: Tensor,
    scores: Tensor | None,
    class_names: Sequence[str],
    font_size: int | None = None,
    line_width: int | None = None,
    min_short_side: int = MIN_SHORT_SIDE,
) -> Tensor:
    """uint8 RGB [3, H', W'] drawing of `image` (uint8, or float in [0, 1]) with `boxes` (XYXY, image pixels) and their
    tags, laid out by `layout_detections`: the image upscaled bilinearly to `drawn_size`, every outline, then every
    tag on top (a tag is never crossed by another box's line)."""
    if image.dtype != torch.uint8:
        image = (image.clamp(0, 1) * 255).round().to(torch.uint8)
    height, width = image.shape[-2:]
    layout = layout_detections(height, width, boxes.cpu(), labels.cpu(), None if scores is None else scores.cpu(), class_names,
                               font_size, line_width, min_short_side)
    canvas = to_pil_image(image.cpu())
    if layout.size != (height, width):
        canvas = canvas.resize(layout.size[::-1], Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(canvas)
    for (x0, y0, x1, y1), color in zip(layout.boxes, layout.colors):
        draw.rectangle((x0, y0, x1 - 1, y1 - 1), outline=color, width=layout.line_width)
    font = _font(layout.font_size)
    for tag, (x0, y0, x1, y1), color in zip(layout.tags, layout.tag_rects, layout.colors):
        patch = Image.new("RGB", (x1 - x0, y1 - y0), color)  # text drawn on its own patch cannot spill out of the tag
        ImageDraw.Draw(patch).text((layout.padding, layout.padding), tag, fill=_text_color(color), font=font)
        canvas.paste(patch, (x0, y0))
    return pil_to_tensor(canvas)


def _text_color(background: tuple[int, int, int]) -> tuple[int, int, int]:
    """Black on light tags, white on dark ones (ITU-R 601 luma)."""
    r, g, b = background
    return (0, 0, 0) if 0.299 * r + 0.587 * g + 0.114 * b > 140 else (255, 255, 255)


def _name(class_names: Sequence[str], label: int) -> str:
    return class_names[label - 1] if 1 <= label <= len(class_names) else f"class{label}"
