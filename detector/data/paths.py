"""Where a data set lives: the `DIR/images`, `DIR/train.json`, `DIR/val.json` layout or explicit COCO paths,
resolved and checked once, with the slices a search may ask for."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.errors import DataError


@dataclass(frozen=True)
class DataPaths:
    """Where the train/val annotation files and image folders are; val is optional.

    `max_train_images` / `max_val_images` train and evaluate on a seeded, class-stratified slice of a
    split (`detector.data.subset`; a search's trials); None = every image.
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
