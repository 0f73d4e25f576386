"""Image files: any Pillow mode to an RGB float tensor (16-bit and float images scaled, not clipped), clear errors
for files that do not decode, and the image files a folder or list names."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torchvision.transforms.v2 import functional as F

from core.errors import DataError, UserError

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


_SIXTEEN_BIT_MODES = {"I;16", "I;16L", "I;16B", "I;16N"}
# What Pillow raises for truncated, corrupt or non-image files.
_DECODE_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError)


def pil_to_rgb_tensor(image: Image.Image) -> torch.Tensor:
    """Float32 [3, H, W] in [0, 1] for any Pillow mode, keeping the stored orientation."""
    mode = image.mode
    if mode in _SIXTEEN_BIT_MODES or mode == "I":
        # 16-bit gray (PNG/TIFF); Pillow's convert('RGB') would clip at 255 instead of scaling.
        array = np.asarray(image).astype(np.float32) / 65535.0
        gray = torch.from_numpy(np.clip(array, 0.0, 1.0))
        return gray.unsqueeze(0).expand(3, -1, -1).contiguous()
    if mode == "F":
        # Float images carry no standard range: take [0, 1], else 8-bit, else 16-bit scale.
        array = np.nan_to_num(np.asarray(image, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        peak = float(array.max()) if array.size else 0.0
        scale = 1.0 if peak <= 1.0 else 255.0 if peak <= 255.0 else 65535.0
        gray = torch.from_numpy(np.clip(array / scale, 0.0, 1.0))
        return gray.unsqueeze(0).expand(3, -1, -1).contiguous()
    if mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")  # via RGBA: Pillow warns on P+transparency straight to RGB
    if image.mode != "RGB":
        image = image.convert("RGB")  # alpha is dropped: COCO boxes refer to the colour pixels
    return F.to_dtype(F.pil_to_tensor(image), torch.float32, scale=True)


def load_rgb_image(path: str | Path) -> torch.Tensor:
    """Decode an image file to float RGB [3, H, W]; undecodable files raise `DataError`."""
    try:
        image = Image.open(path)
    except FileNotFoundError:
        raise DataError(f"{path}: image file not found") from None
    except _DECODE_ERRORS as exc:
        raise DataError(f"{path}: cannot decode image, truncated or not an image ({exc})") from None
    with image:
        try:
            image.load()
        except _DECODE_ERRORS as exc:
            raise DataError(f"{path}: cannot decode image, truncated or not an image ({exc})") from None
        try:
            return pil_to_rgb_tensor(image)
        except ValueError as exc:
            raise DataError(f"{path}: cannot convert Pillow mode {image.mode} to RGB ({exc})") from None


def _image_header_size(path: Path) -> tuple[int, int]:
    """(width, height) from the file header, without decoding the pixels."""
    try:
        with Image.open(path) as image:
            return image.size
    except _DECODE_ERRORS as exc:
        raise DataError(f"{path}: cannot read image header, truncated or not an image ({exc})") from None
