"""Where a data set lives: the `DIR/images`, `DIR/train.json`, `DIR/val.json`, optional `DIR/test.json` layout or
explicit COCO paths, resolved and checked once, with the slices a search may ask for.

`DataPaths` holds what a training run reads (train and val); a test split is resolved apart (`split_files`,
`held_out_test`), so that the training loop cannot look at it."""

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


LAYOUT = "expected layout: DIR/images/, DIR/train.json, DIR/val.json, optional DIR/test.json (file_name relative to images/)"


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
            raise DataError(f"data folder not found: {root} ({LAYOUT})")
        tj, ti = tj or root / "train.json", ti or root / "images"
        vj, vi = vj or root / "val.json", vi or root / "images"
    else:
        if tj is None or ti is None:
            raise DataError(
                "no training data: give a data folder (--data DIR) or both --train-json and --train-images; " + LAYOUT
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
        hint = f"; {LAYOUT}" if data_dir is not None else ""
        raise DataError(f"missing {', '.join(missing)}{hint}")
    return DataPaths(train_json=tj, train_images=ti, val_json=vj, val_images=vi)


@dataclass(frozen=True)
class SplitFiles:
    """One split to evaluate: its annotation file and image folder; `name` names its report (`eval_<name>.json`)."""

    name: str
    ann_file: Path
    image_dir: Path


def split_files(
    data_dir: str | Path | None = None,
    split: str = "val",
    ann_file: str | Path | None = None,
    image_dir: str | Path | None = None,
) -> SplitFiles:
    """`DIR/<split>.json` with `DIR/images`, or any `ann_file` (named after its stem: test.json -> "test"), whose
    images default to the data folder's `images/`, else to `images/` beside the file; `image_dir` overrides either.
    A missing file or folder is one line naming it (and the layout, for a data folder)."""
    root = None if data_dir is None else Path(data_dir).resolve()
    if root is not None and not root.is_dir():
        raise DataError(f"data folder not found: {root} ({LAYOUT})")
    if ann_file is not None:
        ann, name = Path(ann_file).resolve(), Path(ann_file).stem
    elif root is not None:
        ann, name = root / f"{split}.json", split
    else:
        raise DataError("no evaluation data: give --data DIR (uses DIR/<split>.json and DIR/images) or --json FILE --images DIR")
    images = Path(image_dir).resolve() if image_dir is not None else (root or ann.parent) / "images"
    ann_label = "annotation file" if ann_file is not None else f"{name} annotations"
    checks = ((ann_label, ann, ann.is_file()), ("image folder", images, images.is_dir()))
    missing = [f"{what} {path}" for what, path, ok in checks if not ok]
    if missing:
        hint = f"; {LAYOUT}" if root is not None and ann_file is None else ""
        raise DataError(f"missing {', '.join(missing)}{hint}")
    return SplitFiles(name, ann, images)


def held_out_test(
    data_dir: str | Path | None = None, test_json: str | Path | None = None, test_images: str | Path | None = None,
) -> SplitFiles | None:
    """The test split a training run holds out: `test_json`, else `DIR/test.json` when the folder has one; None without.

    It is named "test" whatever its file is called, so its report is `eval_test.json`; its images default as in
    `split_files` (`DIR/images`, else `images/` beside the file)."""
    if test_json is None and (data_dir is None or not (Path(data_dir) / "test.json").is_file()):
        if test_images is not None:
            raise DataError(f"test images given ({test_images}) but no test annotation file (--test-json)")
        return None
    found = split_files(data_dir, "test", test_json, test_images)
    return SplitFiles("test", found.ann_file, found.image_dir)
