"""detector.synthetic: deterministic, valid, learnable-looking COCO shapes, and its CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools.coco import COCO

from core.errors import UserError
from detector.data.dataset import CocoDetection
from detector.data.synthetic import MAX_SIZE, MIN_SIZE, generate_synthetic_coco

REPO = Path(__file__).resolve().parents[2]
CLASSES = ("circle", "square", "triangle")


@pytest.fixture(scope="module")
def shapes_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_synthetic_coco(tmp_path_factory.mktemp("shapes"), num_train=9, num_val=4, seed=3)


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path, shapes_dir: Path) -> None:
    again = generate_synthetic_coco(tmp_path / "again", num_train=9, num_val=4, seed=3)
    for name in ("train.json", "val.json"):
        assert (again / name).read_bytes() == (shapes_dir / name).read_bytes()
    names = sorted(p.name for p in (again / "images").iterdir())
    assert names == sorted(p.name for p in (shapes_dir / "images").iterdir())
    for path in (again / "images").iterdir():
        assert path.read_bytes() == (shapes_dir / "images" / path.name).read_bytes()
    other = generate_synthetic_coco(tmp_path / "other", num_train=9, num_val=4, seed=4)
    assert (other / "train.json").read_bytes() != (shapes_dir / "train.json").read_bytes()


def test_layout_ids_and_classes(shapes_dir: Path) -> None:
    splits = {s: json.loads((shapes_dir / f"{s}.json").read_text()) for s in ("train", "val")}
    assert len(splits["train"]["images"]) == 9 and len(splits["val"]["images"]) == 4
    for data in splits.values():
        assert [c["id"] for c in data["categories"]] == [1, 2, 3]
        assert [c["name"] for c in data["categories"]] == list(CLASSES)
        assert {a["category_id"] for a in data["annotations"]} == {1, 2, 3}  # every class in both splits
        assert all(1 <= sum(a["image_id"] == img["id"] for a in data["annotations"]) <= 4 for img in data["images"])
    train_ids = {img["id"] for img in splits["train"]["images"]}
    val_ids = {img["id"] for img in splits["val"]["images"]}
    assert not train_ids & val_ids
    ann_ids = [a["id"] for data in splits.values() for a in data["annotations"]]
    assert len(ann_ids) == len(set(ann_ids))
    files = sorted(p.name for p in (shapes_dir / "images").iterdir())
    assert files == sorted(img["file_name"] for data in splits.values() for img in data["images"])


def test_loads_with_pycocotools_and_dataset_with_tight_boxes_inside(shapes_dir: Path) -> None:
    coco = COCO(str(shapes_dir / "train.json"))
    assert len(coco.getImgIds()) == 9 and len(coco.getCatIds()) == 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to drop or clip
        dataset = CocoDetection(shapes_dir / "val.json", shapes_dir / "images")
    assert dataset.num_classes == 3 and dataset.class_names == list(CLASSES)
    for index in range(len(dataset)):
        image, target = dataset[index]
        assert image.shape == (3, 192, 256)
        boxes = target["boxes"]
        assert len(boxes) >= 1
        assert (boxes[:, :2] >= 0).all() and (boxes[:, 2] <= 256).all() and (boxes[:, 3] <= 192).all()
        sizes = boxes[:, 2:] - boxes[:, :2]
        assert (sizes >= MIN_SIZE - 1).all() and (sizes <= MAX_SIZE).all()
    for ann in coco.loadAnns(coco.getAnnIds()):
        info = coco.loadImgs(ann["image_id"])[0]
        pixels = np.asarray(Image.open(shapes_dir / "images" / info["file_name"]))
        x, y, w, h = (int(v) for v in ann["bbox"])
        assert ann["area"] == w * h and ann["iscrowd"] == 0
        colour = pixels[y + h // 2, x + w // 2]  # the centre of every shape kind lies inside it
        inside = (pixels[y : y + h, x : x + w] == colour).all(axis=-1)
        # tight: the shape's colour touches all four sides of its box
        assert inside[0].any() and inside[-1].any() and inside[:, 0].any() and inside[:, -1].any()


def test_bad_arguments_and_foreign_folder_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="classes must be distinct names"):
        generate_synthetic_coco(tmp_path / "a", classes=("circle", "hexagon"))
    with pytest.raises(UserError, match="image_size"):
        generate_synthetic_coco(tmp_path / "a", image_size=(16, 256))
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(UserError, match="not empty"):
        generate_synthetic_coco(tmp_path, num_train=2, num_val=1)
    generate_synthetic_coco(tmp_path, num_train=2, num_val=1, force=True)
    assert (tmp_path / "mine.txt").read_text() == "keep me"
    generate_synthetic_coco(tmp_path, num_train=1, num_val=1)  # an earlier synthetic set: overwritten
    assert sorted(p.name for p in (tmp_path / "images").iterdir()) == ["train_000000.png", "val_000000.png"]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    command = [sys.executable, "-m", "detector.synthetic", *args]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def test_cli_writes_and_refuses_a_foreign_folder(tmp_path: Path) -> None:
    out = tmp_path / "set"
    done = _cli("--output", str(out), "--num-train", "3", "--num-val", "2", "--seed", "1", "--image-size", "96", "128")
    assert done.returncode == 0, done.stderr
    assert "wrote 3 train images" in done.stdout and str(out) in done.stdout
    data = json.loads((out / "train.json").read_text())
    assert len(data["images"]) == 3 and (data["images"][0]["height"], data["images"][0]["width"]) == (96, 128)

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("x")
    refused = _cli("--output", str(foreign))
    assert refused.returncode == 2
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "--force" in lines[0]
    assert not (foreign / "train.json").exists()


def test_test_split_is_held_out_and_leaves_train_and_val_unchanged(tmp_path: Path) -> None:
    plain = generate_synthetic_coco(tmp_path / "plain", num_train=4, num_val=3, image_size=(48, 64))
    with_test = generate_synthetic_coco(tmp_path / "test", num_train=4, num_val=3, image_size=(48, 64), num_test=5)
    for split in ("train", "val"):
        assert (plain / f"{split}.json").read_bytes() == (with_test / f"{split}.json").read_bytes()
    test = json.loads((with_test / "test.json").read_text())
    ids = {i["id"] for split in ("train", "val") for i in json.loads((with_test / f"{split}.json").read_text())["images"]}
    assert len(test["images"]) == 5 and not ids & {i["id"] for i in test["images"]} and test["annotations"]
    assert all((with_test / "images" / i["file_name"]).is_file() for i in test["images"])
    assert not (plain / "test.json").exists()
    again = generate_synthetic_coco(with_test, num_train=4, num_val=3, image_size=(48, 64))  # regenerated without one
    assert not (again / "test.json").exists() and not list((again / "images").glob("test_*.png"))
    with pytest.raises(UserError, match="num_test >= 0"):
        generate_synthetic_coco(tmp_path / "bad", num_test=-1)
