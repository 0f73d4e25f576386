"""int8 deployment: ONNX Runtime static quantization of the exported model, the int8-vs-fp32 check,
exported files evaluated and drawn like checkpoints, and latency measured per backend."""

from __future__ import annotations

import collections
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

from detector.deploy.export import export_metadata, export_model
from detector.deploy.int8 import QUANTIZED_SCOPES, calibration_paths, compare_int8, quantize_int8
from detector.deploy.runner import ExportedDetector, onnx_session
from detector.modeling.model import build_detector
from helpers.drawing import assert_detections_drawn
from helpers.tiny import CLI_ENV, REPO, make_synthetic, tiny_config

CLASSES = {"class_names": ["circle", "square", "triangle"], "label_to_category_id": {1: 1, 2: 2, 3: 3},
           "config": {}}


def _random_images(n: int, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.rand(3, 96 + 16 * i, 128, generator=g) for i in range(n)]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """fp32 and int8 files of a random a_dsmask (SE-free) model that reports detections at threshold 0."""
    torch.manual_seed(0)
    config = {"model": {"arch": "fbnetv3_a_dsmask", "weights": None, "freeze_at": 0, "roi_heads": {"score_thresh": 0.0}},
              "input": {"min_size": 96, "max_size": 128}}
    detector = build_detector(config, num_classes=3).eval()
    folder = tmp_path_factory.mktemp("int8")
    fp32 = export_model(detector, folder / "fp32.onnx", "onnx", (96, 128), metadata=export_metadata(CLASSES))
    int8 = quantize_int8(fp32, folder / "int8.onnx", _random_images(4), metadata=export_metadata(CLASSES))
    return fp32, int8


def _producers(model: onnx.ModelProto) -> dict[str, onnx.NodeProto]:
    return {out: node for node in model.graph.node for out in node.output}


def test_convolutions_and_matrix_products_are_int8_detection_ops_stay_float(exported: tuple[Path, Path]) -> None:
    fp32, int8 = (onnx.load(str(p)) for p in exported)
    producer = _producers(int8)
    int8_weights = {t.name for t in int8.graph.initializer if t.data_type == onnx.TensorProto.INT8}
    heavy = [n for n in int8.graph.node if n.op_type in ("Conv", "Gemm", "MatMul")]
    assert heavy and all(n.name.startswith(QUANTIZED_SCOPES) for n in heavy)
    for node in heavy:  # weight input: DequantizeLinear of an int8 initializer, per output channel
        dequantize = producer[node.input[1]]
        assert dequantize.op_type == "DequantizeLinear" and dequantize.input[0] in int8_weights, node.name
    # Outside the quantized scopes the graph is the fp32 graph: same operators (Q/DQ aside), all in float.
    outside = collections.Counter(n.op_type for n in int8.graph.node if not n.name.startswith(QUANTIZED_SCOPES)
                                  and n.op_type not in ("QuantizeLinear", "DequantizeLinear"))
    for op in ("RoiAlign", "NonMaxSuppression", "Exp", "TopK", "Resize"):
        assert outside[op] == sum(n.op_type == op for n in fp32.graph.node), op
    for node in int8.graph.node:
        if node.op_type in ("RoiAlign", "NonMaxSuppression", "Exp"):
            assert all(producer.get(i) is None or producer[i].op_type != "QuantizeLinear" for i in node.input), node.name


def test_int8_file_carries_the_export_facts_and_runs_as_a_detector(exported: tuple[Path, Path]) -> None:
    fp32, int8 = (ExportedDetector(p) for p in exported)
    assert (fp32.precision, int8.precision) == ("fp32", "int8")
    assert int8.class_names == CLASSES["class_names"] and int8.label_to_category_id == CLASSES["label_to_category_id"]
    assert int8.metadata["calibration"]["images"] == 4 and int8.metadata["calibration"]["method"] == "minmax"
    outputs = int8.eval()(_random_images(2, seed=5))
    assert len(outputs) == 2 and all(set(o) == {"boxes", "labels", "scores"} and len(o["boxes"]) > 0 for o in outputs)


def test_int8_detections_match_fp32_and_the_comparison_measures_what_it_says(exported: tuple[Path, Path]) -> None:
    fp32, int8 = (onnx_session(p) for p in exported)
    images = _random_images(2, seed=7)
    same = compare_int8(fp32, fp32, images)
    assert same["matched"] == same["fp32"] == same["int8"] > 0 and same["max_box_px"] == 0.0 and same["max_score"] == 0.0
    close = compare_int8(fp32, int8, images)
    assert close["fp32"] == same["fp32"] and close["int8"] > 0
    # Random weights score every box almost alike, so a few boxes swap places; most must still be found.
    assert close["matched"] >= 0.5 * close["fp32"], close
    assert 0.0 < close["mean_box_px"] < 8.0, close  # boxes move a little (128 px image), not nowhere and not far


def _backbone_input(int8: onnx.ModelProto) -> str:
    """The float tensor the first convolution reads through its QuantizeLinear/DequantizeLinear pair: the
    normalised image, whose range the calibration images set."""
    producer = _producers(int8)
    first_conv = next(n for n in int8.graph.node if n.op_type == "Conv")  # ONNX nodes are in topological order
    dequantize = producer[first_conv.input[0]]
    quantize = producer[dequantize.input[0]]
    assert (dequantize.op_type, quantize.op_type) == ("DequantizeLinear", "QuantizeLinear")
    return quantize.input[0]


def test_calibration_sets_the_input_range_the_model_then_sees(exported: tuple[Path, Path], tmp_path: Path) -> None:
    """Quantization noise of the image the backbone reads, on images the calibration did not see, with ONNX Runtime's
    QDQ debugging tools (each quantized tensor before and after its QuantizeLinear/DequantizeLinear pair).

    Measured: 46 dB signal-to-quantization-noise (8 bits over the calibrated range allow about 50); calibrated on
    black images 1.8 dB, on 0-255 pixels 0.1 dB. The 20 dB floor sits between, far from both: rounding differences
    between CPUs move a float32 range by ulps, not by a factor of ten."""
    from onnxruntime.quantization import CalibrationDataReader
    from onnxruntime.quantization.qdq_loss_debug import (
        collect_activations,
        compute_signal_to_quantization_noice_ratio,
        create_activation_matching,
        modify_model_output_intermediate_tensors,
    )

    class Images(CalibrationDataReader):
        def __init__(self, images: list[torch.Tensor]) -> None:
            self.images = iter(images)

        def get_next(self) -> dict | None:
            image = next(self.images, None)
            return None if image is None else {"image": image.numpy()}

    _, int8 = exported
    with_activations = tmp_path / "int8_activations.onnx"
    modify_model_output_intermediate_tensors(int8, with_activations)
    pairs = create_activation_matching(collect_activations(str(with_activations), Images(_random_images(2, seed=7))))
    image = pairs[_backbone_input(onnx.load(str(int8)))]
    assert compute_signal_to_quantization_noice_ratio(image["pre_qdq"], image["post_qdq"]) > 20.0


def test_calibration_subset_is_seeded_and_bounded(tmp_path: Path) -> None:
    for i in range(10):
        (tmp_path / f"{i}.png").write_bytes(b"")
    first, again = calibration_paths(tmp_path, 4), calibration_paths(tmp_path, 4)
    assert first == again and len(first) == 4 and first == sorted(first)
    assert calibration_paths(tmp_path, 4, seed=1) != first
    assert len(calibration_paths(tmp_path, 50)) == 10


def _train(root: Path, config: dict) -> tuple[Path, Path]:
    """`detector.train` of `config` on 12 synthetic training images (6 more for validation): checkpoint and data."""
    import yaml

    data = make_synthetic(root / "data", num_train=12, num_val=6)
    (root / "tiny.yaml").write_text(yaml.safe_dump(config))
    subprocess.run([sys.executable, "-m", "detector.train", "--config", str(root / "tiny.yaml"), "--data", str(data), "--output",
                    str(root / "run"), "--device", "cpu", "--no-progress"], cwd=REPO, env=CLI_ENV, check=True, capture_output=True,
                   timeout=900)
    return root / "run" / "model_final.pt", data


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny detector trained for a few epochs on synthetic shapes, and its data."""
    return _train(tmp_path_factory.mktemp("trained"), tiny_config(epochs=4, eval_every=0))


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], check=False, cwd=REPO, env=CLI_ENV, capture_output=True, text=True, timeout=600)


def test_export_int8_check_then_evaluate_and_predict_the_files(trained: tuple[Path, Path], tmp_path: Path) -> None:
    checkpoint, data = trained
    int8 = tmp_path / "model_int8.onnx"
    done = _cli("detector.export", "--checkpoint", str(checkpoint), "--format", "onnx", "--int8", "--calibration-images",
                str(data / "images"), "--calibration-count", "8", "--output", str(int8), "--check")
    assert done.returncode == 0, done.stderr
    assert "quantized to int8 on 8 calibration images" in done.stdout
    assert "check passed on 1 images" in done.stdout and "int8 vs fp32 on 1 images:" in done.stdout and "fp32 detections matched" in done.stdout
    fp32 = tmp_path / "model.onnx"
    assert _cli("detector.export", "--checkpoint", str(checkpoint), "--format", "onnx", "--output", str(fp32)).returncode == 0

    reports = {}
    for name, source in (("checkpoint", ["--checkpoint", str(checkpoint)]), ("fp32", ["--model", str(fp32)]),
                         ("int8", ["--model", str(int8)])):
        done = _cli("detector.evaluate", *source, "--data", str(data), "--output", str(tmp_path / f"{name}.json"))
        assert done.returncode == 0, done.stderr
        assert "AP50" in done.stdout and "circle" in done.stdout  # the same AP table, per class too
        reports[name] = json.loads((tmp_path / f"{name}.json").read_text())
    assert reports["fp32"]["weights"] == "onnx fp32" and reports["int8"]["weights"] == "onnx int8"
    assert reports["checkpoint"]["ap50"] > 0, "the tiny model must detect something for the comparison to mean anything"
    # fp32 ONNX reproduces PyTorch up to float rounding: the same AP
    for key in ("ap", "ap50", "ap75"):
        assert reports["fp32"][key] == pytest.approx(reports["checkpoint"][key], abs=0.05), key

    # No AP comparison here: this 4-epoch model barely looks at its input (the same top scores on a black image), so
    # its int8 AP moves with the calibration subset more than a broken calibration moves it (measured: fp32 AP50 5.5,
    # int8 3.6-17.8 over calibration subsets, int8 calibrated on black images 9.9). `test_int8_ap_stays_near_fp32`
    # (slow) compares them on a model that detects.

    drawn = tmp_path / "drawn"
    done = _cli("detector.predict", "--model", str(int8), "--images", str(data / "images"), "--output", str(drawn),
                "--score-thresh", "0.05")
    assert done.returncode == 0, done.stderr
    assert len(list(drawn.glob("*.png"))) == 18 and (drawn / "predictions.json").is_file()
    predictions = json.loads((drawn / "predictions.json").read_text())
    boxed = 0
    for image in sorted((data / "images").glob("*.png")):
        listed = [p for p in predictions if p["file_name"] == image.name]
        assert_detections_drawn(drawn / image.name, image, listed, CLASSES["class_names"])  # category ids are labels
        boxed += bool(listed)
    assert boxed > 0, "the int8 model draws boxes on some image"


@pytest.fixture(scope="module")
def confident(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The tiny detector trained until it finds the objects of its 12 training images (80 epochs, about 2 minutes on
    two CPU cores; AP 70 / AP50 98 on them, against 0.7 / 5.5 after the 4 epochs of `trained`)."""
    return _train(tmp_path_factory.mktemp("confident"), tiny_config(epochs=80, lr=0.05, eval_every=0))


@pytest.mark.slow
def test_int8_ap_stays_near_fp32(confident: tuple[Path, Path], tmp_path: Path) -> None:
    """int8 loses little AP against fp32 where fp32 finds the objects: calibration that does not see the images the
    model sees (black images, pixels 0-255 instead of 0-1) costs nearly all of it.

    Measured on a 2-core AMD EPYC (AVX2 without VNNI, where ONNX Runtime's u8s8 kernels round the most) over 6
    calibration subsets (4-18 images): int8 is 5.5-10.3 AP and 0-2.7 AP50 below fp32 (70.5 / 98.2); calibrated on
    black images 3.2 / 4.1, on 0-255 pixels 0.0 / 0.2. Allowed: 20 AP and 10 AP50, about twice the largest gap a
    change of calibration images gave (another CPU's rounding moves int8 ranges less than that), and still 40 AP /
    80 AP50 short of a broken calibration."""
    checkpoint, data = confident
    fp32, int8 = tmp_path / "model.onnx", tmp_path / "model_int8.onnx"
    done = _cli("detector.export", "--checkpoint", str(checkpoint), "--format", "onnx", "--int8", "--calibration-images",
                str(data / "images"), "--calibration-count", "8", "--output", str(int8))
    assert done.returncode == 0, done.stderr
    assert _cli("detector.export", "--checkpoint", str(checkpoint), "--format", "onnx", "--output", str(fp32)).returncode == 0
    reports = {}
    for name, path in (("fp32", fp32), ("int8", int8)):  # on the training images: the ones this model has learnt to find
        done = _cli("detector.evaluate", "--model", str(path), "--data", str(data), "--split", "train",
                    "--output", str(tmp_path / f"{name}.json"))
        assert done.returncode == 0, done.stderr
        reports[name] = json.loads((tmp_path / f"{name}.json").read_text())
    assert reports["fp32"]["ap50"] > 80, "the comparison needs a model that finds the objects"
    assert reports["int8"]["ap"] == pytest.approx(reports["fp32"]["ap"], abs=20), reports
    assert reports["int8"]["ap50"] == pytest.approx(reports["fp32"]["ap50"], abs=10), reports
