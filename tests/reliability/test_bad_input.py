"""Bad input end to end: every case runs a real CLI as a user would.

Each row of `CASES` (here: data, config and search; `test_bad_input_models.py`: checkpoints,
weights, int8 export and exported models; the machinery: `bad_input.py`) builds broken (or odd but
usable) input in a fresh folder, runs `python -m detector.train`, `detector.evaluate`,
`detector.export` or `nars.search` on it, and checks what the user
sees: an error ends with exit status 2 and exactly one stderr line `error: ...` naming the file,
key or id; usable input finishes with exit status 0 and (when something was changed on load) one
counted `warning: ...` line. Most rows call the CLI's `main(argv)` in this process (it is the same
`run_cli`-wrapped function as the entry point); rows with `in_subprocess=True` run the real
`python -m ...` to prove the entry point prints the same single line and no traceback.

`pytest -q -rA tests/reliability/test_bad_input*.py` doubles as the reliability report.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np
import pytest
from conftest import write_random_checkpoint
from PIL import Image

from reliability.bad_input import (
    Assets,
    Case,
    Json,
    Outcome,
    check_case,
    eval_argv,
    search_argv,
    train_argv,
)


def edit_json(split: str, edit: Callable[[Json], object]) -> Callable[[Path], None]:
    """Change the parsed `<split>.json` in place with `edit` and write it back."""

    def change(data: Path) -> None:
        path = data / f"{split}.json"
        coco = json.loads(path.read_text())
        edit(coco)
        path.write_text(json.dumps(coco))

    return change


def replace_json(split: str, make: Callable[[Json], object]) -> Callable[[Path], None]:
    """Replace `<split>.json` by what `make` returns from the parsed file: raw text, or an object as JSON."""

    def change(data: Path) -> None:
        path = data / f"{split}.json"
        content = make(json.loads(path.read_text()))
        path.write_text(content if isinstance(content, str) else json.dumps(content))

    return change


def first_image(split: str) -> Callable[[Path], Path]:
    return lambda data: data / "images" / json.loads((data / f"{split}.json").read_text())["images"][0]["file_name"]


def truncate_image(split: str) -> Callable[[Path], None]:
    def change(data: Path) -> None:
        path = first_image(split)(data)
        path.write_bytes(path.read_bytes()[:300])  # header intact, pixels cut off

    return change


def replace_image_bytes(split: str, content: bytes) -> Callable[[Path], None]:
    return lambda data: first_image(split)(data).write_bytes(content)


def delete_image(split: str) -> Callable[[Path], None]:
    return lambda data: first_image(split)(data).unlink()


def convert_images(mode: str) -> Callable[[Path], None]:
    """Store every image in Pillow mode `mode` (CMYK as JPEG: PNG holds no CMYK)."""
    suffix = ".jpg" if mode == "CMYK" else ".png"

    def convert(image: Image.Image) -> Image.Image:
        if mode == "I;16":
            return Image.fromarray(np.asarray(image.convert("L"), dtype=np.uint16) * 257)
        if mode == "P":
            return image.convert("P", palette=Image.Palette.ADAPTIVE)
        if mode == "RGBA":
            rgba = image.convert("RGBA")
            rgba.putalpha(128)
            return rgba
        return image.convert(mode)

    def change(data: Path) -> None:
        for split in ("train", "val"):
            path = data / f"{split}.json"
            coco = json.loads(path.read_text())
            for info in coco["images"]:
                source = data / "images" / info["file_name"]
                with Image.open(source) as image:
                    converted = convert(image)
                source.unlink()
                info["file_name"] = Path(info["file_name"]).with_suffix(suffix).name
                converted.save(data / "images" / info["file_name"])
                with Image.open(data / "images" / info["file_name"]) as stored:
                    assert stored.mode == mode, f"test setup: stored {stored.mode}, wanted {mode}"
            path.write_text(json.dumps(coco))

    return change


def set_box(bbox: list[float], index: int = 0) -> Callable[[Json], None]:
    return lambda coco: coco["annotations"][index].update(bbox=bbox)


def degenerate_boxes(coco: Json) -> None:
    for annotation, bbox in zip(coco["annotations"], ([1, 1, 0, 5], [1, 1, 5, 0], [1, 1, float("inf"), 5])):
        annotation["bbox"] = bbox


def data_case(change: Callable[[Path], None], run_with: Literal["train", "evaluate"], *expect: str,
              outcome: Outcome = "error", extra: tuple[str, ...] = (), absent: tuple[str, ...] | None = None,
              in_subprocess: bool = False) -> Case:
    """Copy the data, apply `change`, run detector.train or detector.evaluate (with arguments `extra`) on it.

    By default a train run that fails leaves no output folder behind.
    """

    def build(tmp: Path, assets: Assets) -> list[str]:
        data = Path(shutil.copytree(assets.data, tmp / "data"))
        change(data)
        argv = train_argv if run_with == "train" else eval_argv
        return argv(tmp, assets, *extra, data=data)

    if absent is None:
        absent = ("out",) if run_with == "train" and outcome == "error" else ()
    return Case(f"detector.{run_with}", build, expect, outcome, absent, in_subprocess)


def config_case(*extra: str, expect: tuple[str, ...], yaml_text: str | None = None, in_subprocess: bool = False) -> Case:
    """detector.train with `--set`/other arguments `extra`, or with a config file holding `yaml_text`."""

    def build(tmp: Path, assets: Assets) -> list[str]:
        config = None
        if yaml_text is not None:
            config = tmp / "config.yaml"
            config.write_text(yaml_text)
        return train_argv(tmp, assets, *extra, config=config)

    return Case("detector.train", build, expect, absent=("out",), in_subprocess=in_subprocess)


def search_case(*overrides: str, expect: tuple[str, ...], in_subprocess: bool = False,
                check: Callable[[], None] | None = None) -> Case:
    return Case("nars.search", lambda tmp, assets: search_argv(tmp, assets, *overrides), expect,
                in_subprocess=in_subprocess, check=check)


def search_from_weights(write: Callable[[Path], object], expect: tuple[str, ...]) -> Case:
    """The quickstart search with its arch pinned, fine-tuning from the file `write` makes."""

    def build(tmp: Path, assets: Assets) -> list[str]:
        path = tmp / "weights.pt"
        write(path)
        return search_argv(tmp, assets, f"space.base.model.weights={path}", "space.exclude=[arch,input,warmup_fraction]")

    return Case("nars.search", build, expect, check=ray_not_started)


def ray_not_started() -> None:
    import ray

    assert not ray.is_initialized(), "Ray was started before the input was checked"


# ------------------------------------------------------------------------------- checkpoint builders


CASES = [
    # COCO JSON: structure and types
    pytest.param(data_case(replace_json("train", lambda c: '{"images": ['), "train",
                           "train.json: not valid JSON (line 1"), id="coco-not-json"),
    pytest.param(data_case(replace_json("val", lambda c: [c]), "evaluate",
                           "val.json: top level must be a JSON object, got list"), id="coco-top-level-list"),
    pytest.param(data_case(edit_json("train", lambda c: c.pop("annotations")), "train",
                           "train.json: missing top-level key(s) 'annotations'"), id="coco-missing-key"),
    pytest.param(data_case(edit_json("train", lambda c: c.update(images={"id": 1})), "train",
                           "train.json: 'images' must be a list, got dict"), id="coco-images-not-a-list"),
    pytest.param(data_case(edit_json("val", lambda c: c["images"][0].update(id="5")), "evaluate",
                           "val.json: images[0].id must be an int, got str ('5')"), id="coco-image-id-string"),
    pytest.param(data_case(edit_json("val", lambda c: c["images"][1].update(width="wide")), "evaluate",
                           "val.json: image id 6: width must be a positive integer, got 'wide'"), id="coco-width-string"),
    pytest.param(data_case(edit_json("train", set_box([1, 2, "3", 4])), "train",
                           "train.json: annotation id 1: bbox must be a list of 4 numbers"), id="coco-bbox-string"),
    pytest.param(data_case(edit_json("train", lambda c: c["annotations"][0].update(category_id=None)), "train",
                           "train.json: annotation id 1: category_id must be an int, got null"), id="coco-category-id-null"),
    # COCO JSON: ids
    pytest.param(data_case(edit_json("train", lambda c: c["images"][1].update(id=1)), "train",
                           "train.json: duplicate image id 1"), id="coco-duplicate-image-id"),
    pytest.param(data_case(edit_json("val", lambda c: c["annotations"][1].update(id=c["annotations"][0]["id"])), "evaluate",
                           "val.json: duplicate annotation id 11"), id="coco-duplicate-annotation-id"),
    pytest.param(data_case(edit_json("train", lambda c: c["annotations"][0].update(category_id=42)), "train",
                           "train.json: annotation id 1: unknown category_id 42 (known: 1, 2, 3)"), id="coco-unknown-category-id"),
    pytest.param(data_case(edit_json("val", lambda c: c["annotations"][0].update(image_id=99)), "evaluate",
                           "val.json: annotation id 11: unknown image_id 99"), id="coco-unknown-image-id"),
    pytest.param(data_case(edit_json("val", lambda c: c["categories"][0].update(name="disc")), "train",
                           "val.json has categories ['disc', 'square', 'triangle']", "train.json has"),
                 id="coco-val-categories-differ-from-train"),
    # image files
    pytest.param(data_case(delete_image("train"), "train",
                           "train.json: 1 of 4 image files missing under", "first: train_000000.png"), id="image-file-missing"),
    pytest.param(data_case(truncate_image("val"), "evaluate",
                           "val_000000.png: cannot decode image, truncated or not an image"), id="image-truncated"),
    pytest.param(data_case(truncate_image("train"), "train",
                           "train_000000.png: cannot decode image, truncated or not an image",
                           extra=("--set", "train.num_workers=1"), absent=()), id="image-truncated-in-loader-worker"),
    pytest.param(data_case(replace_image_bytes("val", b"these bytes are no image"), "evaluate",
                           "val_000000.png: cannot decode image, truncated or not an image"), id="image-not-an-image"),
    pytest.param(data_case(edit_json("val", lambda c: c["images"][0].update(width=200)), "evaluate",
                           "val_000000.png: image is 128x96 pixels but val.json says 200x96 (image id 5)"),
                 id="image-size-differs-from-json"),
    # boxes: usable data, dropped or clipped with one counted warning
    pytest.param(data_case(edit_json("val", set_box([10, 10, -5, 20])), "evaluate",
                           "val.json: dropped 1 degenerate box (1 negative-size)", outcome="warning"), id="box-negative-size"),
    pytest.param(data_case(edit_json("val", set_box([10, 10, float("nan"), 20])), "evaluate",
                           "val.json: dropped 1 degenerate box (1 NaN/inf)", outcome="warning"), id="box-nan"),
    pytest.param(data_case(edit_json("val", set_box([500, 10, 20, 20])), "evaluate",
                           "val.json: dropped 1 degenerate box (1 outside the image)", outcome="warning"), id="box-outside-image"),
    pytest.param(data_case(edit_json("val", set_box([10, 10, 0, 20])), "evaluate",
                           "val.json: dropped 1 degenerate box (1 zero-area)", outcome="warning"), id="box-zero-area"),
    pytest.param(data_case(edit_json("val", set_box([-10, 10, 40, 20])), "evaluate",
                           "val.json: clipped 1 box to the image", outcome="warning"), id="box-partly-outside-clipped"),
    pytest.param(data_case(edit_json("train", degenerate_boxes), "train",
                           "train.json: dropped 3 degenerate boxes (1 NaN/inf, 2 zero-area)", outcome="warning",
                           in_subprocess=True), id="boxes-degenerate-train-cli"),
    # image modes that must just work (train, then evaluate on val, in the same mode)
    pytest.param(data_case(convert_images("L"), "train", outcome="ok"), id="image-mode-grayscale"),
    pytest.param(data_case(convert_images("RGBA"), "train", outcome="ok"), id="image-mode-rgba"),
    pytest.param(data_case(convert_images("P"), "train", outcome="ok"), id="image-mode-palette"),
    pytest.param(data_case(convert_images("CMYK"), "train", outcome="ok"), id="image-mode-cmyk"),
    pytest.param(data_case(convert_images("I;16"), "train", outcome="ok"), id="image-mode-16bit"),
    # config and CLI
    pytest.param(config_case("--set", "train.lrr=0.1", expect=("unknown key 'train.lrr'; did you mean 'lr'?",)),
                 id="config-unknown-key"),
    pytest.param(config_case(yaml_text="model:\n  rpn: {nms_thres: 0.5}\n",
                             expect=("unknown key 'model.rpn.nms_thres'; did you mean 'nms_thresh'?",)),
                 id="config-file-unknown-key"),
    pytest.param(config_case(yaml_text="train: {lr: -0.1}\n", expect=("config.yaml: train.lr: got -0.1; input should be greater than 0",)),
                 id="config-file-bad-value"),
    pytest.param(config_case("--set", "model.freeze_at=two", expect=("--set model.freeze_at=two: model.freeze_at: got 'two'; input should be a valid integer",)),
                 id="config-wrong-type"),
    pytest.param(config_case("--set", "model.roi_heads.score_thresh=1.5",
                             expect=("model.roi_heads.score_thresh: got 1.5; input should be less than or equal to 1",)),
                 id="config-out-of-range"),
    pytest.param(config_case("--set", "model.rpn.iou_thresholds=[0.8, 0.7]",
                             expect=("model.rpn.iou_thresholds: got [0.8, 0.7]; lower bound 0.8 must be <= upper bound 0.7",)),
                 id="config-iou-lower-above-upper"),
    pytest.param(config_case("--set", "model.arch=fbnetv3_z", expect=("model.arch: unknown arch 'fbnetv3_z'", "fbnetv3_a")),
                 id="config-unknown-arch"),
    pytest.param(config_case("--set", "model.norm=XN",
                             expect=("model.norm: got 'XN'; input should be 'BN', 'GN', 'SyncBN', 'naiveSyncBN' or 'FrozenBN'",)),
                 id="config-unknown-norm"),
    pytest.param(config_case(yaml_text="model: {arch: [\n", expect=("config.yaml line 2: not valid YAML",)),
                 id="config-file-not-yaml"),
    pytest.param(config_case("--set", "model.norm", expect=("--set expects key=value", "got 'model.norm'"), in_subprocess=True),
                 id="set-without-equals"),
    pytest.param(config_case("--set", "=3", expect=("--set expects key=value", "got '=3'")), id="set-empty-key"),
    pytest.param(config_case("--set", "model.norm.kind=BN", expect=("--set model.norm.kind=BN: 'norm' is a value, not a section",)),
                 id="set-into-a-value"),
    pytest.param(Case("detector.evaluate", lambda tmp, assets: eval_argv(tmp, assets, "--batch-size", "0"),
                      ("--batch-size must be >= 1, got 0",)), id="evaluate-batch-size-zero"),
    pytest.param(search_case("search.searcher=foo", expect=(
        "--set search.searcher=foo: search.searcher: got 'foo'; input should be 'nars', 'random', 'optuna-tpe', 'optuna-qmc', 'optuna-gp', 'smac', 'regularized-evolution' or 'local'",),
                             in_subprocess=True), id="search-unknown-searcher"),
    pytest.param(search_case("search.latency.backend=tflite", expect=(
        "--set search.latency.backend=tflite: search.latency.backend: got 'tflite'; input should be 'torch', 'onnxruntime' or 'onnxruntime-int8'",)),
                 id="search-unknown-latency-backend"),
    # arch pinned: the 2000 draws share one model, so one FLOPs count (test_search_spaces covers a searched arch)
    pytest.param(search_case("constraints=['flops <= 1']", "space.exclude=[arch,input,warmup_fraction]",
                             expect=("flops <= 1 unreachable: smallest flops among 2000 samples",),
                             check=ray_not_started), id="search-impossible-flops"),
    pytest.param(search_case("search.proxy_epochs", expect=("--set expects key=value", "got 'search.proxy_epochs'")),
                 id="search-set-without-equals"),
    pytest.param(search_from_weights(lambda p: write_random_checkpoint(p, model={"arch": "fbnetv3_a_dsmask"}), expect=(
        "space.base.model.weights: ", "weights.pt does not fit this architecture", "tensors differ in shape")),
                 id="search-weights-of-another-arch"),
    pytest.param(search_from_weights(lambda p: p.write_bytes(b"PK\x03\x04 cut off"), expect=(
        "space.base.model.weights: ", "weights.pt: not a readable checkpoint")), id="search-weights-unreadable"),
    pytest.param(data_case(edit_json("val", lambda c: c["categories"][2].update(name="star")), "evaluate",
                           "val.json has classes ['circle', 'square', 'star'] but", "tiny.pt was trained on"),
                 id="checkpoint-classes-differ-from-data"),
]


@pytest.mark.parametrize("case", CASES)
def test_bad_input(case: Case, assets: Assets, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    check_case(case, assets, tmp_path, capsys)
