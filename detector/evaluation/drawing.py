"""Detections drawn on an image (torchvision's `draw_bounding_boxes`): one colour per class, a filled name tag with
the score, text that stays readable on light and dark colours."""

from __future__ import annotations

import colorsys
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor
from torchvision.utils import draw_bounding_boxes


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
