"""detector.data: validation errors, box cleaning, image modes, label mapping, transforms, paths."""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from pycocotools.coco import COCO
from torchvision import tv_tensors

from core.errors import DataError
from detector.config import AugmentConfig
from detector.data.dataset import CocoDetection, DataWarning
from detector.data.images import load_rgb_image, pil_to_rgb_tensor
from detector.data.loader import build_dataloader, build_transforms, collate_detection
from detector.data.paths import DataPaths, resolve_data_paths


def _base() -> dict[str, Any]:
    """Two 100x80 images, one category, two annotations: a valid COCO file to mutate."""
    return {
        "images": [
            {"id": 1, "file_name": "a.png", "width": 100, "height": 80},
            {"id": 2, "file_name": "b.png", "width": 100, "height": 80},
        ],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20], "area": 400, "iscrowd": 0},
            {"id": 2, "image_id": 2, "category_id": 1, "bbox": [5, 5, 30, 40], "area": 1200, "iscrowd": 0},
        ],
        "categories": [{"id": 1, "name": "thing"}],
    }


def _write_images(image_dir: Path, names: list[str], size: tuple[int, int] = (100, 80)) -> None:
    image_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        Image.new("RGB", size, (40, 80, 120)).save(image_dir / name)


def _write_coco(tmp_path: Path, data: Any, images: list[str] | None = None) -> tuple[Path, Path]:
    """Write `data` as train.json (raw text if str) and the image files; return (json, image dir)."""
    ann_file = tmp_path / "train.json"
    ann_file.write_text(data if isinstance(data, str) else json.dumps(data))
    _write_images(tmp_path / "images", ["a.png", "b.png"] if images is None else images)
    return ann_file, tmp_path / "images"


def _mutate(fn: Callable[[dict[str, Any]], Any]) -> Any:
    data = _base()
    result = fn(data)
    return data if result is None else result


# (id, how to break the file, what the DataError must say besides the file name)
BAD_JSON = [
    ("not-json", lambda d: "{images: [", "not valid JSON"),
    ("top-level-list", lambda d: [d], "top level must be a JSON object, got list"),
    ("missing-categories", lambda d: d.pop("categories") and None, "missing top-level key(s) 'categories'"),
    ("missing-images-annotations", lambda d: {"categories": d["categories"]}, "'images', 'annotations'"),
    ("images-not-list", lambda d: d.update(images={"id": 1}), "'images' must be a list, got dict"),
    ("image-not-object", lambda d: d["images"].append(3), "images[2] must be an object"),
    ("image-id-str", lambda d: d["images"][1].update(id="2"), "images[1].id must be an int, got str"),
    ("annotation-id-float", lambda d: d["annotations"][0].update(id=1.5), "annotations[0].id must be an int"),
    ("category-id-bool", lambda d: d["categories"][0].update(id=True), "categories[0].id must be an int"),
    ("file-name-missing", lambda d: d["images"][0].pop("file_name") and None, "image id 1: file_name"),
    ("width-negative", lambda d: d["images"][1].update(width=-4), "image id 2: width must be a positive integer"),
    ("bbox-3-numbers", lambda d: d["annotations"][1].update(bbox=[1, 2, 3]), "annotation id 2: bbox must be a list"),
    ("bbox-string", lambda d: d["annotations"][0].update(bbox=[1, 2, "3", 4]), "annotation id 1: bbox must be"),
    ("bbox-missing", lambda d: d["annotations"][0].pop("bbox") and None, "annotation id 1: bbox must be"),
    ("category-id-str", lambda d: d["annotations"][0].update(category_id="1"), "annotation id 1: category_id must"),
    ("iscrowd-2", lambda d: d["annotations"][1].update(iscrowd=2), "annotation id 2: iscrowd must be 0 or 1"),
    ("category-name", lambda d: d["categories"][0].update(name=5), "category id 1: name must be a string"),
    ("duplicate-image-id", lambda d: d["images"][1].update(id=1), "duplicate image id 1"),
    ("duplicate-annotation-id", lambda d: d["annotations"][1].update(id=1), "duplicate annotation id 1"),
    ("duplicate-category-id", lambda d: d["categories"].append({"id": 1, "name": "x"}), "duplicate category id 1"),
    ("unknown-category", lambda d: d["annotations"][1].update(category_id=9), "annotation id 2: unknown category_id 9"),
    ("unknown-image", lambda d: d["annotations"][0].update(image_id=99), "annotation id 1: unknown image_id 99"),
    ("no-categories", lambda d: d.update(categories=[], annotations=[]), "'categories' is empty"),
]


@pytest.mark.parametrize(("mutation", "expected"), [c[1:] for c in BAD_JSON], ids=[c[0] for c in BAD_JSON])
def test_bad_annotation_file_raises_one_line_data_error(tmp_path: Path, mutation: Callable, expected: str) -> None:
    ann_file, image_dir = _write_coco(tmp_path, _mutate(mutation))
    with pytest.raises(DataError) as info:
        CocoDetection(ann_file, image_dir)
    message = str(info.value)
    assert str(ann_file) in message
    assert expected in message
    assert "\n" not in message


def test_missing_annotation_file_and_image_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="annotation file not found: .*nope.json"):
        CocoDetection(tmp_path / "nope.json", tmp_path)
    ann_file, _ = _write_coco(tmp_path, _base())
    with pytest.raises(DataError, match="image folder not found: .*pics"):
        CocoDetection(ann_file, tmp_path / "pics")


def test_missing_image_files_are_counted_and_first_named(tmp_path: Path) -> None:
    data = _base()
    data["images"].append({"id": 3, "file_name": "c.png", "width": 100, "height": 80})
    ann_file, image_dir = _write_coco(tmp_path, data, images=["b.png"])
    with pytest.raises(DataError, match=r"train\.json: 2 of 3 image files missing under .*images, first: a\.png"):
        CocoDetection(ann_file, image_dir)


def _truncated_jpeg(path: Path) -> None:
    Image.new("RGB", (100, 80), (200, 10, 10)).save(path.with_suffix(".tmp.jpg"), quality=95)
    data = path.with_suffix(".tmp.jpg").read_bytes()
    path.write_bytes(data[: len(data) // 2])


BAD_IMAGES = [
    ("truncated-jpeg", _truncated_jpeg, "truncated or not an image"),
    ("not-an-image", lambda p: p.write_bytes(b"this is not an image at all" * 10), "truncated or not an image"),
    ("empty-file", lambda p: p.write_bytes(b""), "truncated or not an image"),
    ("wrong-size", lambda p: Image.new("RGB", (64, 48)).save(p, format="PNG"), "64x48 pixels but train.json says"),
]


@pytest.mark.parametrize(("corrupt", "expected"), [c[1:] for c in BAD_IMAGES], ids=[c[0] for c in BAD_IMAGES])
def test_bad_image_file_raises_data_error_naming_it(tmp_path: Path, corrupt: Callable, expected: str) -> None:
    ann_file, image_dir = _write_coco(tmp_path, _base())
    corrupt(image_dir / "b.png")
    dataset = CocoDetection(ann_file, image_dir)
    dataset[0]  # the intact image still loads
    with pytest.raises(DataError) as info:
        dataset[1]
    assert "b.png" in str(info.value)
    assert expected in str(info.value)


def test_image_size_read_from_header_when_json_omits_it(tmp_path: Path) -> None:
    data = _base()
    for img in data["images"]:
        del img["width"], img["height"]
    data["annotations"][0]["bbox"] = [90, 70, 20, 20]  # clipped against the 100x80 header size
    ann_file, image_dir = _write_coco(tmp_path, data)
    with pytest.warns(DataWarning, match="clipped 1 box to the image"):
        dataset = CocoDetection(ann_file, image_dir)
    assert dataset[0][1]["boxes"].tolist() == [[90.0, 70.0, 100.0, 80.0]]
    (image_dir / "b.png").write_bytes(b"garbage")
    with pytest.raises(DataError, match="b.png: cannot read image header"):
        CocoDetection(ann_file, image_dir)


def test_degenerate_boxes_are_dropped_or_clipped_with_one_counted_warning(tmp_path: Path) -> None:
    data = _base()
    boxes = [
        [10, 10, 20, 20],  # kept as is
        [10, 10, -5, 5],  # negative width: dropped
        [math.nan, 0, 10, 10],  # NaN: dropped
        [0, 0, math.inf, 10],  # inf: dropped
        [5, 5, 0, 10],  # zero width: dropped
        [90, 70, 20, 20],  # crosses bottom-right: clipped
        [-5, -5, 10, 10],  # crosses top-left: clipped
        [200, 10, 10, 10],  # entirely outside: dropped
    ]
    data["annotations"] = [
        {"id": i + 1, "image_id": 1, "category_id": 1, "bbox": b, "iscrowd": 0} for i, b in enumerate(boxes)
    ]
    data["annotations"].append({"id": 99, "image_id": 1, "category_id": 1, "bbox": [0, 0, 9, 9], "iscrowd": 1})
    ann_file, image_dir = _write_coco(tmp_path, data)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dataset = CocoDetection(ann_file, image_dir)
    messages = [str(w.message) for w in caught if issubclass(w.category, DataWarning)]
    assert messages == [
        "train.json: dropped 5 degenerate boxes (2 NaN/inf, 1 negative-size, 1 zero-area, 1 outside the image), "
        "clipped 2 boxes to the image, ignored 1 crowd annotation(s)"
    ]
    image, target = dataset[0]
    assert target["boxes"].tolist() == [[10.0, 10.0, 30.0, 30.0], [90.0, 70.0, 100.0, 80.0], [0.0, 0.0, 5.0, 5.0]]
    assert target["labels"].tolist() == [1, 1, 1]
    assert dataset.box_stats["crowd"] == 1 and dataset.box_stats["clipped"] == 2
    _, empty = dataset[1]  # image 2 lost its only annotation: kept with an empty target
    assert dataset.image_ids == [1, 2]
    assert empty["boxes"].shape == (0, 4) and empty["labels"].shape == (0,)
    assert empty["boxes"].dtype == torch.float32 and empty["labels"].dtype == torch.int64
    assert isinstance(empty["boxes"], tv_tensors.BoundingBoxes)


def test_clean_file_loads_without_warning_and_fills_coco_defaults(tmp_path: Path) -> None:
    data = _base()
    for ann in data["annotations"]:
        del ann["area"], ann["iscrowd"]
    ann_file, image_dir = _write_coco(tmp_path, data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dataset = CocoDetection(ann_file, image_dir)
    image, target = dataset[1]
    assert isinstance(image, tv_tensors.Image) and image.dtype == torch.float32 and image.shape == (3, 80, 100)
    assert torch.allclose(image[:, 0, 0], torch.tensor([40, 80, 120]) / 255.0)
    assert target["boxes"].format == tv_tensors.BoundingBoxFormat.XYXY
    assert tuple(target["boxes"].canvas_size) == (80, 100)
    assert target["boxes"].tolist() == [[5.0, 5.0, 35.0, 45.0]]
    assert target["image_id"] == 2
    assert isinstance(dataset.coco, COCO)
    assert dataset.coco.anns[2]["area"] == 1200 and dataset.coco.anns[2]["iscrowd"] == 0


def test_category_ids_with_gaps_map_to_contiguous_labels(tmp_path: Path) -> None:
    data = _base()
    data["categories"] = [{"id": 7, "name": "seven"}, {"id": 3, "name": "three"}]
    data["annotations"][0]["category_id"] = 7
    data["annotations"][1]["category_id"] = 3
    ann_file, image_dir = _write_coco(tmp_path, data)
    dataset = CocoDetection(ann_file, image_dir)
    assert dataset.num_classes == 2
    assert dataset.class_names == ["three", "seven"]
    assert dataset.label_to_category_id == {1: 3, 2: 7}
    assert dataset.category_id_to_label == {3: 1, 7: 2}
    assert dataset[0][1]["labels"].tolist() == [2]
    assert dataset[1][1]["labels"].tolist() == [1]


# --------------------------------------------------------------------------------------------
# image modes


def _palette_image(transparent: bool) -> Image.Image:
    image = Image.new("P", (6, 4), 1)
    image.putpalette([0, 0, 0, 200, 100, 50] + [0] * (256 * 3 - 6))
    if transparent:
        image.info["transparency"] = 1
    return image


MODES = [
    # id, image, file suffix, expected RGB of every pixel (0..1)
    ("L", Image.new("L", (6, 4), 128), ".png", (128 / 255,) * 3),
    ("LA", Image.new("LA", (6, 4), (128, 0)), ".png", (128 / 255,) * 3),
    ("1", Image.new("1", (6, 4), 1), ".png", (1.0, 1.0, 1.0)),
    ("RGBA", Image.new("RGBA", (6, 4), (10, 20, 30, 0)), ".png", (10 / 255, 20 / 255, 30 / 255)),
    ("P", _palette_image(False), ".png", (200 / 255, 100 / 255, 50 / 255)),
    ("P-transparent", _palette_image(True), ".png", (200 / 255, 100 / 255, 50 / 255)),
    ("CMYK", Image.new("CMYK", (6, 4), (0, 255, 255, 0)), ".tif", (1.0, 0.0, 0.0)),
    ("I;16-max", Image.fromarray(np.full((4, 6), 65535, np.uint16)), ".png", (1.0, 1.0, 1.0)),
    ("I;16-half", Image.fromarray(np.full((4, 6), 32768, np.uint16)), ".png", (32768 / 65535,) * 3),
    ("I;16B", Image.new("I;16B", (6, 4), 65535), ".tif", (1.0, 1.0, 1.0)),
    ("F", Image.new("F", (6, 4), 0.25), ".tif", (0.25, 0.25, 0.25)),
]


@pytest.mark.parametrize(("image", "suffix", "rgb"), [m[1:] for m in MODES], ids=[m[0] for m in MODES])
def test_every_pillow_mode_loads_as_float_rgb(tmp_path: Path, image: Image.Image, suffix: str, rgb: tuple) -> None:
    path = tmp_path / f"image{suffix}"
    image.save(path, transparency=image.info["transparency"]) if "transparency" in image.info else image.save(path)
    with Image.open(path) as reopened:
        assert reopened.mode == image.mode  # the file really holds the mode under test
    tensor = load_rgb_image(path)
    assert tensor.shape == (3, 4, 6) and tensor.dtype == torch.float32
    assert 0.0 <= tensor.min() and tensor.max() <= 1.0
    expected = torch.tensor(rgb, dtype=torch.float32)[:, None, None].expand(3, 4, 6)
    assert torch.allclose(tensor, expected, atol=1e-4)


def test_32_bit_integer_mode_scales_as_16_bit() -> None:
    tensor = pil_to_rgb_tensor(Image.new("I", (3, 2), 32768))
    assert tensor.shape == (3, 2, 3) and torch.allclose(tensor, torch.full_like(tensor, 32768 / 65535))


def test_stored_orientation_is_kept(tmp_path: Path) -> None:
    image = Image.new("RGB", (6, 4), (0, 0, 0))
    image.putpixel((5, 0), (255, 255, 255))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90": must be ignored, COCO boxes refer to the stored pixels
    image.save(tmp_path / "r.jpg", exif=exif, quality=100)
    tensor = load_rgb_image(tmp_path / "r.jpg")
    assert tensor.shape == (3, 4, 6)
    assert tensor[:, 0, 5].min() > 0.8 and tensor[:, 3, 0].max() < 0.2


# --------------------------------------------------------------------------------------------
# transforms, collation, loaders


def _one_box_sample() -> tuple[tv_tensors.Image, dict[str, Any]]:
    pixels = torch.zeros(3, 80, 100)
    pixels[:, 10:30, 10:30] = 1.0
    boxes = tv_tensors.BoundingBoxes(
        [[10.0, 10.0, 30.0, 30.0], [50.0, 50.0, 50.5, 60.0]], format="XYXY", canvas_size=(80, 100)
    )
    return tv_tensors.Image(pixels), {"boxes": boxes, "labels": torch.tensor([1, 2]), "image_id": 5}


def test_train_transform_flips_boxes_with_the_image_and_sanitizes() -> None:
    transform = build_transforms(AugmentConfig(hflip_prob=1.0, color_jitter=0.0), train=True)
    image, target = transform(*_one_box_sample())
    assert target["boxes"].tolist() == [[70.0, 10.0, 90.0, 30.0]]  # x -> W - x; the 0.5 px box is removed
    assert target["labels"].tolist() == [1]  # its label went with it
    assert target["image_id"] == 5
    assert image[:, 10:30, 70:90].min() == 1.0 and image[:, :, :70].max() == 0.0


def test_transform_composition_follows_the_config() -> None:
    assert build_transforms(AugmentConfig(), train=False) is None
    assert build_transforms(None, train=True) is None
    transform = build_transforms(AugmentConfig(hflip_prob=0.3, color_jitter=0.2), True)
    names = [type(t).__name__ for t in transform.transforms]
    assert names == ["RandomHorizontalFlip", "ColorJitter", "SanitizeBoundingBoxes"]
    names = [type(t).__name__ for t in build_transforms(AugmentConfig(color_jitter=0.0), True).transforms]
    assert names == ["RandomHorizontalFlip", "SanitizeBoundingBoxes"]
    image, target = build_transforms(AugmentConfig(hflip_prob=0.0), True)(*_one_box_sample())
    assert target["boxes"].tolist() == [[10.0, 10.0, 30.0, 30.0]]


def test_collate_keeps_lists() -> None:
    a, b = _one_box_sample(), _one_box_sample()
    images, targets = collate_detection([a, b])
    assert isinstance(images, list) and isinstance(targets, list)
    assert images[0] is a[0] and targets[1] is b[1]


def test_dataloader_is_seeded_and_yields_lists(tmp_path: Path) -> None:
    data = _base()
    data["images"] += [{"id": i, "file_name": "a.png", "width": 100, "height": 80} for i in range(3, 9)]
    ann_file, image_dir = _write_coco(tmp_path, data)
    dataset = CocoDetection(ann_file, image_dir)

    def order(seed: int) -> list[int]:
        loader = build_dataloader(dataset, batch_size=3, shuffle=True, num_workers=0, seed=seed)
        return [t["image_id"] for _, targets in loader for t in targets]

    assert order(1) == order(1)
    assert sorted(order(1)) == list(range(1, 9))
    assert order(1) != order(2)
    images, targets = next(iter(build_dataloader(dataset, 4, shuffle=False, num_workers=0, seed=0, drop_last=True)))
    assert len(images) == 4 and [t["image_id"] for t in targets] == [1, 2, 3, 4]
    with pytest.raises(RuntimeError, match="torch.distributed"):
        build_dataloader(dataset, 2, shuffle=True, num_workers=0, seed=0, distributed=True)


def test_raccoon_train_split_loads(raccoon_dir: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dataset = CocoDetection(raccoon_dir / "train.json", raccoon_dir / "images")
    assert len(dataset) == 160 and len(dataset.image_ids) == 160
    assert sum(len(dataset.coco.getAnnIds(imgIds=i)) for i in dataset.image_ids) == 175
    assert sum(len(dataset.boxes_and_labels(i)[1]) for i in range(len(dataset))) == 175
    assert dataset.class_names == ["raccoon"] and dataset.label_to_category_id == {1: 1}
    gray_names = {"raccoon-150.jpg", "raccoon-152.jpg", "raccoon-161.jpg"}  # stored as mode L
    gray = [i for i in range(len(dataset)) if dataset.image_info(i)["file_name"] in gray_names]
    for index in gray[:1] + [0]:  # a grayscale JPEG (if in train) and a colour one
        image, target = dataset[index]
        assert image.shape[0] == 3 and image.dtype == torch.float32
        assert target["boxes"].shape[0] >= 1 and (target["labels"] == 1).all()


# --------------------------------------------------------------------------------------------
# resolve_data_paths


def _layout(root: Path, val: bool = True) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "train.json").write_text("{}")
    if val:
        (root / "val.json").write_text("{}")
    return root


def test_data_dir_layout_and_overrides(tmp_path: Path) -> None:
    root = _layout(tmp_path / "set")
    paths = resolve_data_paths(root)
    assert paths == DataPaths(root / "train.json", root / "images", root / "val.json", root / "images")
    other = tmp_path / "other.json"
    other.write_text("{}")
    assert resolve_data_paths(root, val_json=other).val_json == other
    explicit = resolve_data_paths(train_json=root / "train.json", train_images=root / "images")
    assert explicit.val_json is None and explicit.val_images is None
    with_val = resolve_data_paths(train_json=root / "train.json", train_images=root / "images", val_json=other)
    assert with_val.val_images == root / "images"  # val images default to the train folder


@pytest.mark.parametrize(
    ("setup", "kwargs", "expected"),
    [
        (lambda r: None, {"data_dir": "nowhere"}, "data folder not found: .*nowhere .*expected layout"),
        (lambda r: _layout(r, val=False), {"data_dir": "."}, r"missing val annotations .*val\.json; expected layout"),
        (_layout, {}, "no training data"),
        (_layout, {"train_json": "train.json"}, "no training data"),
        (_layout, {"train_json": "t.json", "train_images": "images"}, r"missing train annotations .*t\.json"),
        (_layout, {"train_json": "train.json", "train_images": "images", "val_images": "images"}, "no val annotation"),
    ],
    ids=["no-dir", "no-val-json", "nothing", "no-train-images", "missing-train-json", "val-images-only"],
)
def test_resolve_data_paths_errors(tmp_path: Path, setup: Callable, kwargs: dict[str, str], expected: str) -> None:
    root = tmp_path / "set"
    setup(root)
    resolved = {k: root / v for k, v in kwargs.items()}
    with pytest.raises(DataError, match=expected):
        resolve_data_paths(**resolved)


def test_data_paths_are_absolute_for_workers_in_other_folders(tmp_path, monkeypatch):
    """Ray trials and torchrun workers run elsewhere: a relative --data must still find the files."""
    from helpers.tiny import make_synthetic

    make_synthetic(tmp_path / "set", num_train=2, num_val=1)
    monkeypatch.chdir(tmp_path)
    paths = resolve_data_paths(data_dir="set")
    monkeypatch.chdir("/")
    assert all(p.is_absolute() and p.exists() for p in (paths.train_json, paths.train_images, paths.val_json, paths.val_images))
