"""detector.export: TorchScript and ONNX files reproduce the PyTorch model's eval output (CPU)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from detector.deploy.export import ExportError, compare_with_pytorch, example_image, export_model, inference_model, load_exported
from detector.modeling.model import build_detector
from detector.modeling.norms import NaiveSyncBatchNorm
from detector.training.checkpoint import model_from_checkpoint

pytest.importorskip("onnxruntime")
REPO = Path(__file__).resolve().parents[2]
FORMATS = ["torchscript", "onnx"]


def _detector(score_thresh: float = 0.0, seed: int = 0, **model: object) -> torch.nn.Module:
    """Random-weight 3-class model; threshold 0 so that it reports (many) detections to compare."""
    torch.manual_seed(seed)
    config = {"model": {"arch": "fbnetv3_a_dsmask", "weights": None, "freeze_at": 0, "roi_heads": {"score_thresh": score_thresh}, **model}}
    return build_detector(config, num_classes=3).eval()


@pytest.fixture(scope="module")
def detector() -> torch.nn.Module:
    return _detector()


# Sizes where torchvision's floor-based resize gave different sizes eagerly and scripted/traced.
ODD_SIZES = [(150, 401), (929, 721), (385, 677), (1006, 1167), (633, 227)]


def _images(sizes: list[tuple[int, int]] = [(224, 320), (320, 224), *ODD_SIZES]) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    return [torch.rand(3, h, w, generator=g) for h, w in sizes]


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_matches_pytorch(fmt: str, detector: torch.nn.Module, tmp_path: Path) -> None:
    path = export_model(detector, tmp_path / f"model.{fmt}", fmt)
    assert path.is_file() and [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary left behind
    stats = compare_with_pytorch(detector, load_exported(path, fmt), _images())
    assert stats["detections"] > 30  # non-trivial: several boxes per image at threshold 0
    assert stats["max_box_rel"] <= 1e-3 and stats["max_score"] <= 1e-4
    if fmt == "torchscript":
        assert stats["max_box_px"] == 0.0 and stats["max_score"] == 0.0  # same kernels: bit-identical


@pytest.mark.filterwarnings("ignore::FutureWarning")  # torch.jit.script is deprecated, still supported
def test_resize_rounds_and_scripts_identically(detector: torch.nn.Module) -> None:
    """Shorter side exactly min_size (or longer side exactly max_size), the same when scripted."""
    transform = detector.transform
    scripted = torch.jit.script(inference_model(detector)).detector.transform
    for h, w in ODD_SIZES:
        image = torch.zeros(3, h, w)
        size = tuple(transform([image])[0].image_sizes[0])
        assert min(size) == 224 or max(size) == 320
        assert tuple(scripted([image])[0].image_sizes[0]) == size


def test_inference_model_copies_and_makes_batchnorm_plain(detector: torch.nn.Module) -> None:
    assert any(isinstance(m, NaiveSyncBatchNorm) for m in detector.modules())  # the config default
    wrapped = inference_model(detector)
    assert not any(isinstance(m, NaiveSyncBatchNorm) for m in wrapped.modules())
    assert any(isinstance(m, NaiveSyncBatchNorm) for m in detector.modules())  # original untouched
    image = _images()[0]
    with torch.inference_mode():
        ref = detector([image])[0]
        boxes, labels, scores = wrapped(image)
    assert torch.equal(boxes, ref["boxes"]) and torch.equal(labels, ref["labels"]) and torch.equal(scores, ref["scores"])


def test_onnx_example_without_detections_still_detects(tmp_path: Path) -> None:
    """The trace example's detection count must not be frozen into the graph."""
    model = _detector()
    with torch.no_grad():
        model.roi_heads.box_predictor.cls_score.weight.mul_(300)  # make scores depend on the image
        example_best = float(model([example_image((224, 320))])[0]["scores"].max())
        candidates = [torch.full((3, 224, 320), v) for v in (0.0, 0.25, 0.5, 0.75, 1.0)]
        best = max(candidates, key=lambda img: float(model([img])[0]["scores"].max()))
        best_score = float(model([best])[0]["scores"].max())
    if best_score <= example_best:
        pytest.skip("no candidate image scores above the trace example with these random weights")
    model.roi_heads.score_thresh = (example_best + best_score) / 2
    with torch.no_grad():
        assert len(model([example_image((224, 320))])[0]["boxes"]) == 0 and len(model([best])[0]["boxes"]) > 0
    path = export_model(model, tmp_path / "m.onnx", "onnx")
    stats = compare_with_pytorch(model, load_exported(path, "onnx"), [best, example_image((224, 320))])
    assert stats["detections"] > 0


def test_mismatch_raises_clear_error(detector: torch.nn.Module) -> None:
    image = _images()[0]

    def shifted(img: torch.Tensor) -> tuple[torch.Tensor, ...]:
        with torch.inference_mode():
            out = detector([img])[0]
        return out["boxes"] + 2.0, out["labels"], out["scores"]

    with pytest.raises(ExportError, match=r"deviates from PyTorch on a 224x320 image: boxes by 2 px"):
        compare_with_pytorch(detector, shifted, [image])

    def fewer(img: torch.Tensor) -> tuple[torch.Tensor, ...]:
        with torch.inference_mode():
            out = detector([img])[0]
        return out["boxes"][1:], out["labels"][1:], out["scores"][1:]

    with pytest.raises(ExportError, match="detections on a 224x320 image"):
        compare_with_pytorch(detector, fewer, [image])


def test_onnx_opset_too_low_for_aligned_roialign(detector: torch.nn.Module, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="opset >= 16"):
        export_model(detector, tmp_path / "m.onnx", "onnx", opset=11)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("fmt", FORMATS)
def test_fixture_model_parity(fmt: str, fixtures_dir: Path, tmp_path: Path) -> None:
    """The original d2go model's random-init weights give 19 detections on the fixture image."""
    weights = fixtures_dir / "faster_rcnn_fbnetv3a_dsmask_C4_random_init.pth"
    model = build_detector({"model": {"arch": "fbnetv3_a_dsmask", "num_classes": 80, "weights": str(weights), "freeze_at": 0}}).eval()
    image = torch.load(fixtures_dir / "faster_rcnn_fbnetv3a_dsmask_C4_expected.pt", weights_only=True)["input_bgr"].flip(0) / 255
    path = export_model(model, tmp_path / f"fixture.{fmt}", fmt)
    stats = compare_with_pytorch(model, load_exported(path, fmt), [image, image.transpose(1, 2).contiguous()])
    with torch.inference_mode():
        assert len(model([image])[0]["boxes"]) == 19
    assert stats["detections"] >= 19
    assert stats["max_box_rel"] <= 1e-3 and stats["max_score"] <= 1e-4


def _export_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "detector.export", *args], cwd=REPO, capture_output=True, text=True, timeout=180)


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_cli_check(fmt: str, tmp_path: Path) -> None:
    from conftest import write_random_checkpoint

    ckpt = write_random_checkpoint(tmp_path / "ckpt.pt", {"roi_heads": {"score_thresh": 0.0}})
    out = tmp_path / "exported" / f"model.{fmt}"
    result = _export_cli("--checkpoint", str(ckpt), "--format", fmt, "--output", str(out), "--image-size", "200", "288", "--check")
    assert result.returncode == 0, result.stderr
    assert out.is_file()
    assert f"exported {fmt} to {out}" in result.stdout
    assert "check passed on 2 images" in result.stdout and "max |Δbox|" in result.stdout
    assert "Traceback" not in result.stderr
    # The file holds the checkpoint's model: checked here, not by trusting the CLI's own check line.
    model, _ = model_from_checkpoint(ckpt)
    image = torch.rand(3, 180, 260, generator=torch.Generator().manual_seed(11))  # not one of the CLI's check images
    stats = compare_with_pytorch(model, load_exported(out, fmt), [image])  # raises ExportError when they differ
    assert stats["detections"] > 10


def test_export_cli_bad_checkpoint(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_text("not a checkpoint")
    result = _export_cli("--checkpoint", str(bad), "--format", "onnx", "--output", str(tmp_path / "m.onnx"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "bad.pt" in lines[0]
    assert not (tmp_path / "m.onnx").exists()


def test_export_cli_calibration_images_without_int8_is_one_error_line(tmp_path: Path, random_checkpoint: Path,
                                                                       capsys: pytest.CaptureFixture) -> None:
    """Calibration images only matter to --int8: given without it they would be ignored silently, so it is refused
    before any export, as one line. In process: the same `main` the CLI runs."""
    from detector.export import main

    (tmp_path / "calibration").mkdir()
    out = tmp_path / "m.onnx"
    with pytest.raises(SystemExit) as exit_info:
        main(["--checkpoint", str(random_checkpoint), "--format", "onnx", "--output", str(out),
              "--calibration-images", str(tmp_path / "calibration")])
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --calibration-images is only used with --int8"), lines
    assert not out.exists()


def test_check_images_from_file_and_default(tmp_path: Path) -> None:
    from PIL import Image

    from detector.deploy.export import check_images

    Image.new("RGB", (50, 30), (255, 0, 0)).save(tmp_path / "red.png")
    image, transposed = check_images((224, 320), str(tmp_path / "red.png"))
    assert image.shape == (3, 30, 50) and transposed.shape == (3, 50, 30)
    assert [tuple(t.shape) for t in check_images((100, 200))] == [(3, 100, 200), (3, 200, 100)]
