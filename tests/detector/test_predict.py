"""detector.predict: image discovery, drawing, the library call and the CLI end to end (CPU)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from core.errors import UserError
from detector.data.images import find_images
from detector.deploy.predictions import predict_images, to_coco_results
from detector.evaluation.drawing import class_colors, draw_detections
from detector.training.checkpoint import model_from_checkpoint
from helpers.drawing import assert_detections_drawn

REPO = Path(__file__).resolve().parents[2]
CLASSES = ["circle", "square", "triangle"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "detector.predict", *args], cwd=REPO, capture_output=True, text=True, timeout=120)


def _images(folder: Path) -> dict[str, Path]:
    """One image per awkward Pillow mode / format, plus a file that is not an image."""
    folder.mkdir(parents=True, exist_ok=True)
    gradient = Image.linear_gradient("L").resize((96, 72))
    files = {
        "rgb.jpg": Image.merge("RGB", (gradient, gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT), gradient)),
        "gray.bmp": gradient,
        "palette.png": Image.new("P", (80, 60), 5),
        "alpha.png": Image.new("RGBA", (64, 64), (200, 40, 40, 128)),
        "gray16.png": Image.new("I;16", (70, 50), 30000),
        "photo.webp": Image.new("RGB", (90, 90), (10, 120, 200)),
    }
    paths = {}
    for name, image in files.items():
        image.save(folder / name)
        paths[name] = folder / name
    (folder / "broken.jpg").write_bytes(b"not an image at all")
    (folder / "notes.txt").write_text("ignored: not an image extension")
    return paths


def test_find_images_filters_extensions_and_keeps_explicit_files(tmp_path: Path) -> None:
    paths = _images(tmp_path / "imgs")
    found = find_images([tmp_path / "imgs", paths["rgb.jpg"]])
    assert [p.name for p in found] == sorted([*paths, "broken.jpg"])  # the duplicate named twice appears once
    with pytest.raises(UserError, match="does not exist"):
        find_images([tmp_path / "missing"])


def test_class_colors_are_distinct() -> None:
    colors = class_colors(20)
    assert len(set(colors)) == 20


def test_draw_detections_draws_and_handles_no_boxes() -> None:
    image = torch.full((3, 120, 160), 128, dtype=torch.uint8)
    upscaled = torch.full((3, 512, 683), 128, dtype=torch.uint8)  # short side 120 -> 512
    assert torch.equal(draw_detections(image, torch.zeros(0, 4), torch.zeros(0, dtype=torch.int64), torch.zeros(0), CLASSES), upscaled)
    out = draw_detections(image, torch.tensor([[10.0, 10.0, 100.0, 80.0]]), torch.tensor([2]), torch.tensor([0.9]), CLASSES)
    assert out.shape == upscaled.shape and out.dtype == torch.uint8
    assert (out != upscaled).any(dim=0).sum() > 200 * 4  # box outline plus the filled name tag
    same_size = draw_detections(image, torch.tensor([[10.0, 10.0, 100.0, 80.0]]), torch.tensor([2]), torch.tensor([0.9]), CLASSES,
                                min_short_side=0)
    assert same_size.shape == image.shape


def test_to_coco_results_converts_to_xywh() -> None:
    entries = to_coco_results(
        "a.jpg", torch.tensor([[10.0, 20.0, 40.0, 60.0]]), torch.tensor([3]), torch.tensor([0.5]), CLASSES, {3: 17}
    )
    assert entries == [{"file_name": "a.jpg", "bbox": [10.0, 20.0, 30.0, 40.0], "score": 0.5, "category_id": 17, "category_name": "triangle"}]


def test_predict_images_thresholds_and_restores_model(tmp_path: Path, random_checkpoint: Path) -> None:
    paths = _images(tmp_path / "imgs")
    model, ckpt = model_from_checkpoint(random_checkpoint)
    before = model.roi_heads.score_thresh
    results = predict_images(model, ckpt["class_names"], [*paths.values(), tmp_path / "imgs" / "broken.jpg"], score_thresh=0.0, batch_size=4)
    assert model.roi_heads.score_thresh == before and not model.training
    assert [r["path"].name for r in results] == list(paths)  # unreadable file left out, order kept
    assert all(len(r["boxes"]) > 0 for r in results)  # threshold 0 below the model's own 0.05
    first = results[0]
    assert (first["width"], first["height"]) == (96, 72)
    assert set(first["names"]) <= set(CLASSES)
    assert (first["boxes"][:, 2:] <= torch.tensor([96, 72])).all()
    high = predict_images(model, ckpt["class_names"], [paths["rgb.jpg"]], score_thresh=0.9)
    assert all((r["scores"] >= 0.9).all() for r in high)


def test_predict_cli_writes_pngs_and_json(tmp_path: Path, random_checkpoint: Path) -> None:
    paths = _images(tmp_path / "imgs")
    out = tmp_path / "out"
    result = _run("--checkpoint", str(random_checkpoint), "--images", str(tmp_path / "imgs"), "--output", str(out),
                  "--score-thresh", "0.0", "--device", "cpu", "--batch-size", "3")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "skipped" in result.stderr and "broken.jpg" in result.stderr
    assert sorted(p.name for p in out.glob("*.png")) == sorted(f"{Path(n).stem}.png" for n in paths)
    with Image.open(out / "rgb.png") as drawn:
        assert drawn.size == (683, 512) and drawn.mode == "RGB"  # 96x72 upscaled to a 512 px short side
    predictions = json.loads((out / "predictions.json").read_text())
    assert predictions and {p["file_name"] for p in predictions} == set(paths)
    for p in predictions:
        assert set(p) == {"file_name", "bbox", "score", "category_id", "category_name"}
        assert p["category_name"] == CLASSES[p["category_id"] - 1]
        assert len(p["bbox"]) == 4 and p["bbox"][2] >= 0 and p["bbox"][3] >= 0
    last = result.stdout.strip().splitlines()[-1]
    assert f"{len(paths)} images, {len(predictions)} detections" in last and "skipped 1 unreadable" in last and str(out) in last
    # The PNGs show those detections on the images (the checkpoint's category ids are its labels).
    untouched = 0
    for name, path in paths.items():
        listed = [p for p in predictions if p["file_name"] == name]
        assert listed, name  # threshold 0: a random model reports boxes everywhere
        untouched += assert_detections_drawn(out / f"{path.stem}.png", path, listed, CLASSES)
    assert untouched > 0, "some pixels lie away from every box, so an image drawn over entirely fails"


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_predict_cli_bad_checkpoint(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00garbage")
    _images(tmp_path / "imgs")
    line = _one_error_line(_run("--checkpoint", str(bad), "--images", str(tmp_path / "imgs"), "--output", str(tmp_path / "out")))
    assert "bad.pt" in line


@pytest.mark.parametrize("flag, value, message", [("--score-thresh", "1.5", "--score-thresh must be in [0, 1], got 1.5"),
                                                 ("--batch-size", "0", "--batch-size must be >= 1, got 0")],
                         ids=["score-thresh", "batch-size"])
def test_predict_cli_bad_values_are_one_error_line(flag: str, value: str, message: str, tmp_path: Path, random_checkpoint: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    """Refused before any work (a threshold above 1 would silently draw nothing), as one line naming the flag,
    without argparse's usage block. In process: the same `main` the CLI runs, without a second torch import."""
    from detector.predict import main

    _images(tmp_path / "imgs")
    with pytest.raises(SystemExit) as exit_info:
        main(["--checkpoint", str(random_checkpoint), "--images", str(tmp_path / "imgs"), "--output", str(tmp_path / "out"), flag, value])
    line = _one_error_line(subprocess.CompletedProcess([], exit_info.value.code, "", capsys.readouterr().err))
    assert line.startswith(f"error: {message}")
    assert not (tmp_path / "out").exists()


def test_predict_cli_no_readable_images(tmp_path: Path, random_checkpoint: Path) -> None:
    (tmp_path / "empty").mkdir()
    line = _one_error_line(_run("--checkpoint", str(random_checkpoint), "--images", str(tmp_path / "empty"), "--output", str(tmp_path / "o")))
    assert "no images" in line
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "a.png").write_bytes(b"junk")
    (tmp_path / "junk" / "b.jpg").write_bytes(b"")
    result = _run("--checkpoint", str(random_checkpoint), "--images", str(tmp_path / "junk"), "--output", str(tmp_path / "o"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: none of the 2 image files could be read")


def test_predict_on_raccoon_photos(raccoon_dir: Path, random_checkpoint: Path) -> None:
    photos = sorted((raccoon_dir / "images").glob("*.jpg"))[:2]
    model, ckpt = model_from_checkpoint(random_checkpoint)
    results = predict_images(model, ckpt["class_names"], photos, score_thresh=0.0, batch_size=2)
    assert [r["path"] for r in results] == photos
    for r in results:
        with Image.open(r["path"]) as photo:
            assert (r["width"], r["height"]) == photo.size
        assert (r["boxes"][:, 2] <= r["width"]).all() and (r["boxes"][:, 3] <= r["height"]).all()
