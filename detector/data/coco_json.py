"""COCO annotation files: read, checked for structure and types with one line per problem naming the file
and the id, then indexed by pycocotools (which would fail with bare KeyErrors on the same files)."""

from __future__ import annotations

import contextlib
import functools
import io
import json
import math
from pathlib import Path
from typing import Any

from pycocotools.coco import COCO

from core.errors import DataError

_REQUIRED_KEYS = ("images", "annotations", "categories")
_SINGULAR = {"images": "image", "annotations": "annotation", "categories": "category"}


def read_coco(ann_file: Path) -> COCO:
    """The validated, indexed annotation file, parsed once per process and file version (path, mtime, size).

    A search worker builds the same train and val sets for every trial; a COCO-size file takes tens of
    seconds to parse. The returned object is shared: callers must not modify it.
    """
    ann_file = Path(ann_file)
    if not ann_file.is_file():
        raise DataError(f"annotation file not found: {ann_file}")
    stat = ann_file.stat()
    return _parse_once(ann_file.resolve(), stat.st_mtime_ns, stat.st_size, ann_file)


@functools.lru_cache(maxsize=4)
def _parse_once(resolved: Path, mtime_ns: int, size: int, ann_file: Path) -> COCO:
    """The cache of `read_coco` (keyed by the resolved path and the file's version); errors name `ann_file` as given."""
    data = _read_json(ann_file)
    _validate_coco(ann_file, data)
    return _build_coco(data)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _read_json(ann_file: Path) -> Any:
    if not ann_file.is_file():
        raise DataError(f"annotation file not found: {ann_file}")
    try:
        text = ann_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{ann_file}: cannot read ({exc})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{ann_file}: not valid JSON (line {exc.lineno} column {exc.colno}: {exc.msg})") from None


def _check_records(ann_file: Path, data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """`data[key]` must be a list of dicts whose `id`s are unique ints."""
    records = data[key]
    if not isinstance(records, list):
        raise DataError(f"{ann_file}: '{key}' must be a list, got {_type_name(records)}")
    seen: set[int] = set()
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise DataError(f"{ann_file}: {key}[{i}] must be an object, got {_type_name(record)}")
        rid = record.get("id")
        if not _is_int(rid):
            raise DataError(f"{ann_file}: {key}[{i}].id must be an int, got {_type_name(rid)} ({rid!r})")
        if rid in seen:
            raise DataError(f"{ann_file}: duplicate {_SINGULAR[key]} id {rid}")
        seen.add(rid)
    return records


def _validate_coco(ann_file: Path, data: Any) -> None:
    """Check structure and types before pycocotools sees the data (it fails with bare KeyErrors)."""
    if not isinstance(data, dict):
        raise DataError(f"{ann_file}: top level must be a JSON object, got {_type_name(data)}")
    missing = [k for k in _REQUIRED_KEYS if k not in data]
    if missing:
        raise DataError(f"{ann_file}: missing top-level key(s) {', '.join(repr(k) for k in missing)}")
    images = _check_records(ann_file, data, "images")
    annotations = _check_records(ann_file, data, "annotations")
    categories = _check_records(ann_file, data, "categories")
    if not categories:
        raise DataError(f"{ann_file}: 'categories' is empty; at least one category is needed")
    for cat in categories:
        if not isinstance(cat.get("name"), str):
            got = _type_name(cat.get("name"))
            raise DataError(f"{ann_file}: category id {cat['id']}: name must be a string, got {got}")
    for img in images:
        where = f"{ann_file}: image id {img['id']}"
        name = img.get("file_name")
        if not isinstance(name, str) or not name:
            raise DataError(f"{where}: file_name must be a non-empty string, got {name!r}")
        for dim in ("width", "height"):
            value = img.get(dim)
            if value is not None and not (_is_number(value) and value > 0 and float(value).is_integer()):
                raise DataError(f"{where}: {dim} must be a positive integer, got {value!r}")
    image_ids = {img["id"] for img in images}
    category_ids = {cat["id"] for cat in categories}
    for ann in annotations:
        where = f"{ann_file}: annotation id {ann['id']}"
        for key in ("image_id", "category_id"):
            if not _is_int(ann.get(key)):
                raise DataError(f"{where}: {key} must be an int, got {_type_name(ann.get(key))} ({ann.get(key)!r})")
        if ann["image_id"] not in image_ids:
            raise DataError(f"{where}: unknown image_id {ann['image_id']}")
        if ann["category_id"] not in category_ids:
            known = sorted(category_ids)
            shown = ", ".join(map(str, known[:10])) + (", ..." if len(known) > 10 else "")
            raise DataError(f"{where}: unknown category_id {ann['category_id']} (known: {shown})")
        bbox = ann.get("bbox")
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(_is_number(v) for v in bbox)):
            raise DataError(f"{where}: bbox must be a list of 4 numbers [x, y, width, height], got {bbox!r}")
        if ann.get("iscrowd", 0) not in (0, 1):
            raise DataError(f"{where}: iscrowd must be 0 or 1, got {ann.get('iscrowd')!r}")


def _build_coco(data: dict[str, Any]) -> COCO:
    """pycocotools COCO from an already parsed dict, without its progress prints.

    Missing `area`/`iscrowd` are filled in (box area, 0) because COCOeval reads both.
    """
    for ann in data["annotations"]:
        if "area" not in ann:
            w, h = ann["bbox"][2], ann["bbox"][3]
            ann["area"] = float(w * h) if math.isfinite(w * h) and w > 0 and h > 0 else 0.0
        ann.setdefault("iscrowd", 0)
    coco = COCO()
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco
