"""COCO detection data: a validating dataset, box-aware transforms, path resolution and loaders.

Bad data should fail at construction with one line naming the file and the offending id, not as a
shape error deep inside training. Degenerate boxes are common in real annotation files, so they are
dropped (or clipped) and summarised in a single warning instead of aborting. The annotation file
itself is read and checked by `detector.coco_json`.
"""

from __future__ import annotations

import logging
import math
import random
import warnings
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.distributed as dist
from PIL import Image, UnidentifiedImageError
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

from core.errors import DataError, InputWarning
from detector.coco_json import read_coco

if TYPE_CHECKING:
    from detector.config import AugmentConfig

__all__ = [
    "CocoDetection",
    "DataPaths",
    "DataWarning",
    "build_dataloader",
    "build_transforms",
    "collate_detection",
    "load_rgb_image",
    "pil_to_rgb_tensor",
    "resolve_data_paths",
]

logger = logging.getLogger(__name__)

Target = dict[str, Any]
Transform = Callable[[tv_tensors.Image, Target], tuple[tv_tensors.Image, Target]]

_SIXTEEN_BIT_MODES = {"I;16", "I;16L", "I;16B", "I;16N"}
_DROP_KINDS = ("NaN/inf", "negative-size", "zero-area", "outside the image")
# What Pillow raises for truncated, corrupt or non-image files.
_DECODE_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError)


class DataWarning(InputWarning):
    """Data was usable but changed on load (boxes dropped or clipped)."""


# --------------------------------------------------------------------------------------------
# Image loading


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


# --------------------------------------------------------------------------------------------
# Dataset


def _clean_boxes(
    anns: Sequence[dict[str, Any]], width: float, height: float, label_of: dict[int, int], stats: Counter[str]
) -> tuple[list[list[float]], list[int]]:
    """XYXY boxes and labels of the usable annotations; counts what was dropped, clipped or ignored."""
    boxes: list[list[float]] = []
    labels: list[int] = []
    for ann in anns:
        if ann.get("iscrowd", 0):
            stats["crowd"] += 1
            continue
        x, y, w, h = (float(v) for v in ann["bbox"])
        if not all(math.isfinite(v) for v in (x, y, w, h)):
            stats["NaN/inf"] += 1
            continue
        if w < 0 or h < 0:
            stats["negative-size"] += 1
            continue
        if w == 0 or h == 0:
            stats["zero-area"] += 1
            continue
        x0, y0, x1, y1 = x, y, x + w, y + h
        cx0, cy0 = min(max(x0, 0.0), width), min(max(y0, 0.0), height)
        cx1, cy1 = min(max(x1, 0.0), width), min(max(y1, 0.0), height)
        if cx1 <= cx0 or cy1 <= cy0:
            stats["outside the image"] += 1
            continue
        if (cx0, cy0, cx1, cy1) != (x0, y0, x1, y1):
            stats["clipped"] += 1
        boxes.append([cx0, cy0, cx1, cy1])
        labels.append(label_of[ann["category_id"]])
    return boxes, labels


def _summary(name: str, stats: Counter[str]) -> str | None:
    """One line such as 'train.json: dropped 3 degenerate boxes (2 zero-area, 1 NaN/inf), clipped 5 ...'."""
    dropped = sum(stats[k] for k in _DROP_KINDS)
    if not dropped and not stats["clipped"]:
        return None
    parts = []
    if dropped:
        kinds = ", ".join(f"{stats[k]} {k}" for k in _DROP_KINDS if stats[k])
        parts.append(f"dropped {dropped} degenerate box{'es' if dropped != 1 else ''} ({kinds})")
    if stats["clipped"]:
        parts.append(f"clipped {stats['clipped']} box{'es' if stats['clipped'] != 1 else ''} to the image")
    if stats["crowd"]:
        parts.append(f"ignored {stats['crowd']} crowd annotation(s)")
    return f"{name}: " + ", ".join(parts)


class CocoDetection(Dataset):
    """COCO-format detection set for torchvision detectors.

    Labels are contiguous 1..K in sorted category-id order (0 is background, torchvision's
    convention); `label_to_category_id` maps back for COCOeval on `coco`. Images without any usable
    box are kept with empty targets. `box_stats` counts boxes dropped/clipped and crowd
    annotations ignored. `image_ids` keeps only those images (a search's slice, `detector.subset`).
    """

    def __init__(
        self, ann_file: str | Path, image_dir: str | Path, transforms: Transform | None = None, image_ids: Collection[int] | None = None
    ) -> None:
        self.ann_file = Path(ann_file)
        self.image_dir = Path(image_dir)
        self.transforms = transforms
        if not self.image_dir.is_dir():
            raise DataError(f"image folder not found: {self.image_dir} (needed by {self.ann_file})")
        self.coco = read_coco(self.ann_file)

        category_ids = sorted(self.coco.cats)
        self.label_to_category_id: dict[int, int] = {i + 1: cid for i, cid in enumerate(category_ids)}
        self.category_id_to_label: dict[int, int] = {cid: lab for lab, cid in self.label_to_category_id.items()}
        self.class_names: list[str] = [self.coco.cats[cid]["name"] for cid in category_ids]
        self.num_classes = len(category_ids)

        keep = None if image_ids is None else set(image_ids)
        self._infos = [info for info in self.coco.dataset["images"] if keep is None or info["id"] in keep]
        self.image_ids: list[int] = [info["id"] for info in self._infos]
        self._check_files_exist()

        self.box_stats: Counter[str] = Counter()
        self._boxes: list[torch.Tensor] = []
        self._labels: list[torch.Tensor] = []
        for info in self._infos:
            width, height = self._expected_size(info)
            anns = self.coco.imgToAnns.get(info["id"], [])
            boxes, labels = _clean_boxes(anns, width, height, self.category_id_to_label, self.box_stats)
            self._boxes.append(torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4))
            self._labels.append(torch.tensor(labels, dtype=torch.int64))
        message = _summary(self.ann_file.name, self.box_stats)
        if message:
            warnings.warn(message, DataWarning, stacklevel=2)
        if self.box_stats["crowd"]:
            logger.info("%s: ignored %d crowd annotations", self.ann_file.name, self.box_stats["crowd"])

    def _check_files_exist(self) -> None:
        missing = [info["file_name"] for info in self._infos if not (self.image_dir / info["file_name"]).is_file()]
        if missing:
            raise DataError(
                f"{self.ann_file}: {len(missing)} of {len(self._infos)} image files missing under "
                f"{self.image_dir}, first: {missing[0]}"
            )

    def _expected_size(self, info: dict[str, Any]) -> tuple[int, int]:
        """(width, height) from the JSON, or from the file header when the JSON omits it."""
        if info.get("width") is not None and info.get("height") is not None:
            return int(info["width"]), int(info["height"])
        return _image_header_size(self.image_dir / info["file_name"])

    def image_info(self, index: int) -> dict[str, Any]:
        """The COCO image record (id, file_name, width, height, ...) of sample `index`."""
        return self._infos[index]

    def boxes_and_labels(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Cleaned XYXY boxes and labels of sample `index` without decoding its image (statistics, samplers)."""
        return self._boxes[index].clone(), self._labels[index].clone()

    def __len__(self) -> int:
        return len(self._infos)

    def __getitem__(self, index: int) -> tuple[tv_tensors.Image, Target]:
        info = self._infos[index]
        path = self.image_dir / info["file_name"]
        pixels = load_rgb_image(path)
        height, width = pixels.shape[-2:]
        expected_w, expected_h = self._expected_size(info)
        if (width, height) != (expected_w, expected_h):
            raise DataError(
                f"{path}: image is {width}x{height} pixels but {self.ann_file.name} says "
                f"{expected_w}x{expected_h} (image id {info['id']})"
            )
        image = tv_tensors.Image(pixels)
        target: Target = {
            "boxes": tv_tensors.BoundingBoxes(
                self._boxes[index].clone(), format=tv_tensors.BoundingBoxFormat.XYXY, canvas_size=(height, width)
            ),
            "labels": self._labels[index].clone(),
            "image_id": info["id"],
        }
        if self.transforms is not None:
            image, target = self.transforms(image, target)
        return image, target


# --------------------------------------------------------------------------------------------
# Transforms and loaders


def _target_labels(inputs: Any) -> torch.Tensor:
    """labels_getter for SanitizeBoundingBoxes on `(image, target)` inputs (module-level: picklable)."""
    return inputs[1]["labels"]


def build_transforms(augment: AugmentConfig | None, train: bool) -> v2.Compose | None:
    """Box-aware train augmentation; None for evaluation (scale jitter lives in the model's resize)."""
    if not train or augment is None:
        return None
    steps: list[Any] = [v2.RandomHorizontalFlip(p=augment.hflip_prob)]
    if augment.color_jitter > 0:
        cj = augment.color_jitter
        steps.append(v2.ColorJitter(brightness=cj, contrast=cj, saturation=cj))
    steps.append(v2.SanitizeBoundingBoxes(labels_getter=_target_labels))
    return v2.Compose(steps)


def collate_detection(batch: Sequence[tuple[Any, Target]]) -> tuple[list[Any], list[Target]]:
    """Detection images differ in size, so a batch stays a list of images and a list of targets."""
    images, targets = zip(*batch) if batch else ((), ())
    return list(images), list(targets)


def _seed_worker(worker_id: int) -> None:
    """Seed Python and NumPy in each worker from torch's per-worker seed (torch seeds only itself)."""
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)


def build_dataloader(
    dataset: Dataset,
    batch_size: int,
    shuffle: bool,
    num_workers: int,
    seed: int,
    distributed: bool = False,
    drop_last: bool = False,
) -> DataLoader:
    """Reproducible detection loader; with `distributed`, call `loader.sampler.set_epoch(epoch)` each epoch."""
    generator = torch.Generator()
    sampler = None
    if distributed:
        if not (dist.is_available() and dist.is_initialized()):
            raise RuntimeError("build_dataloader(distributed=True) needs torch.distributed to be initialised")
        sampler = DistributedSampler(dataset, shuffle=shuffle, seed=seed, drop_last=drop_last)
        generator.manual_seed(seed + dist.get_rank())  # different worker augmentation streams per rank
    else:
        generator.manual_seed(seed)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle if sampler is None else False,
        sampler=sampler,
        num_workers=num_workers,
        collate_fn=collate_detection,
        generator=generator,
        worker_init_fn=_seed_worker,
        persistent_workers=False,
        drop_last=drop_last,
    )


# --------------------------------------------------------------------------------------------
# Paths


@dataclass(frozen=True)
class DataPaths:
    """Where the train/val annotation files and image folders are; val is optional.

    `max_train_images` / `max_val_images` train and evaluate on a seeded, class-stratified slice of a
    split (`detector.subset`; a search's trials); None = every image.
    """

    train_json: Path
    train_images: Path
    val_json: Path | None = None
    val_images: Path | None = None
    max_train_images: int | None = None
    max_val_images: int | None = None
    subset_seed: int = 0


_LAYOUT = "expected layout: DIR/images/, DIR/train.json, DIR/val.json (file_name relative to images/)"


def resolve_data_paths(
    data_dir: str | Path | None = None,
    train_json: str | Path | None = None,
    train_images: str | Path | None = None,
    val_json: str | Path | None = None,
    val_images: str | Path | None = None,
) -> DataPaths:
    """`data_dir` gives the raccoon-style layout; explicit paths override its parts.

    Without `data_dir`, validation is optional; with it, DIR/val.json must exist (or be overridden).
    Paths come back absolute: Ray trials and torchrun workers may run in another working directory.
    """
    tj, ti, vj, vi = (None if p is None else Path(p).resolve() for p in (train_json, train_images, val_json, val_images))
    if data_dir is not None:
        root = Path(data_dir).resolve()
        if not root.is_dir():
            raise DataError(f"data folder not found: {root} ({_LAYOUT})")
        tj, ti = tj or root / "train.json", ti or root / "images"
        vj, vi = vj or root / "val.json", vi or root / "images"
    else:
        if tj is None or ti is None:
            raise DataError(
                "no training data: give a data folder (--data DIR) or both --train-json and --train-images; " + _LAYOUT
            )
        if vi is not None and vj is None:
            raise DataError(f"val images given ({vi}) but no val annotation file (--val-json)")
        if vj is not None and vi is None:
            vi = ti
    missing = [
        f"{what} {path}"
        for what, path, ok in (
            ("train annotations", tj, tj.is_file()),
            ("train images", ti, ti.is_dir()),
            ("val annotations", vj, vj is None or vj.is_file()),
            ("val images", vi, vi is None or vi.is_dir()),
        )
        if not ok
    ]
    if missing:
        hint = f"; {_LAYOUT}" if data_dir is not None else ""
        raise DataError(f"missing {', '.join(missing)}{hint}")
    return DataPaths(train_json=tj, train_images=ti, val_json=vj, val_images=vi)
