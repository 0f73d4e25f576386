"""The validating COCO detection dataset: bad data fails at construction with one line naming the file and the
offending id, not as a shape error deep inside training. Degenerate boxes are common in real annotation files, so
they are dropped (or clipped) and summarised in a single warning instead of aborting. The annotation file itself
is read and checked by `detector.data.coco_json`."""

from __future__ import annotations

import logging
import math
import warnings
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset
from torchvision import tv_tensors

from core.errors import DataError, InputWarning
from detector.data.coco_json import read_coco
from detector.data.images import _image_header_size, load_rgb_image

logger = logging.getLogger(__name__)
Target = dict[str, Any]
Transform = Callable[[tv_tensors.Image, Target], tuple[tv_tensors.Image, Target]]
_DROP_KINDS = ("NaN/inf", "negative-size", "zero-area", "outside the image")


class DataWarning(InputWarning):
    """Data was usable but changed on load (boxes dropped or clipped)."""


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
    annotations ignored. `image_ids` keeps only those images (a search's slice, `detector.data.subset`).
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
