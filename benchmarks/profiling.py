"""Where a detector's inference time goes, for `detector_speed.py`: wall time per model part (forward
hooks), the top operators of torch's profiler and of ONNX Runtime's, and the ONNX files (fp32 and int8)
that are timed beside the PyTorch models."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn

from detector.deploy.export import export_model
from detector.deploy.int8 import calibration_paths, load_calibration_images, quantize_int8
from detector.deploy.runner import onnx_session

# (module path inside a GeneralizedRCNN, label); a parent's own time excludes the listed children.
PARTS = [
    ("transform", "resize + normalise"),
    ("backbone", "trunk (+ FPN for tv)"),
    ("rpn.head", "RPN head"),
    ("rpn", "RPN anchors + NMS"),
    ("roi_heads.box_roi_pool", "RoIAlign"),
    ("roi_heads.box_head", "box head"),
    ("roi_heads.box_predictor", "box predictor"),
    ("roi_heads", "box post-processing"),
]


class PartTimer:
    """Forward hooks that add up the wall time spent in each of `PARTS` (children subtracted from parents)."""

    def __init__(self, model: nn.Module) -> None:
        self.total: dict[str, float] = {path: 0.0 for path, _ in PARTS}
        self._handles = []
        for path, _ in PARTS:
            module = model.get_submodule(path)
            self._handles.append(module.register_forward_pre_hook(self._start(path)))
            self._handles.append(module.register_forward_hook(self._stop(path)))
        self._started: dict[str, float] = {}

    def _start(self, path: str) -> Callable[..., None]:
        def hook(*_: object) -> None:
            self._started[path] = time.perf_counter()
        return hook

    def _stop(self, path: str) -> Callable[..., None]:
        def hook(*_: object) -> None:
            self.total[path] += time.perf_counter() - self._started.pop(path)
        return hook

    def own(self) -> dict[str, float]:
        """Seconds per part with each child's time taken out of its parent's."""
        own = dict(self.total)
        for path, _ in PARTS:
            parent = path.rpartition(".")[0]
            if parent in own:
                own[parent] -= self.total[path]
        return own

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()


def part_times(models: dict[str, nn.Module], image: Tensor, repeats: int) -> dict[str, dict[str, float]]:
    """Mean ms per inference spent in each part, per model (the hooks add a little overhead of their own)."""
    result = {}
    for name, model in models.items():
        timer = PartTimer(model)
        with torch.inference_mode():
            for _ in range(repeats):
                model([image])
        timer.remove()
        result[name] = {path: seconds * 1000 / repeats for path, seconds in timer.own().items()}
    return result


def onnx_call(path: Path, image: Tensor, threads: int) -> Callable[[], object]:
    """One ONNX Runtime inference of `image` with `threads` intra-op threads (a session per thread count)."""
    session = onnx_session(path, threads)
    feed = {"image": image.numpy()}
    return lambda: session.run(None, feed)


def onnx_files(model: nn.Module, image_size: tuple[int, int], input_size: tuple[int, int], folder: Path,
               calibration_images: Path | None, calibration_count: int) -> tuple[Path, Path]:
    """`model` exported to ONNX (fp32) and quantized (int8), as `detector.export` writes them; calibrated on
    `calibration_images` (at the model's `input_size`, min and max side) or on random images of `image_size`."""
    fp32 = export_model(model, folder / "model.onnx", "onnx", image_size=image_size)
    if calibration_images:
        images = load_calibration_images(calibration_paths(calibration_images, calibration_count), *input_size)
    else:
        generator = torch.Generator().manual_seed(1)
        images = [torch.rand(3, *image_size, generator=generator) for _ in range(calibration_count)]
    return fp32, quantize_int8(fp32, folder / "model_int8.onnx", images)


def profile_onnx(path: Path, image: Tensor, threads: int, runs: int, top: int) -> list[tuple[str, float, float]]:
    """ONNX Runtime's own profile: top operator types by kernel time, (op, ms per inference, share)."""
    from detector.deploy.runner import require_onnxruntime

    ort = require_onnxruntime()

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads, options.enable_profiling = threads, 1, True
    options.profile_file_prefix = str(path.with_suffix(""))
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    session.run(None, {"image": image.numpy()})  # warm-up, profiled too: subtracted below by running `runs` more
    for _ in range(runs):
        session.run(None, {"image": image.numpy()})
    events = json.loads(Path(session.end_profiling()).read_text())
    per_op: dict[str, float] = {}
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            per_op[event["args"]["op_name"]] = per_op.get(event["args"]["op_name"], 0.0) + event["dur"]
    total = sum(per_op.values())
    ranked = sorted(per_op.items(), key=lambda item: item[1], reverse=True)[:top]
    return [(op, us / 1000 / (runs + 1), us / total) for op, us in ranked]


def profile_ops(model: nn.Module, image: Tensor, runs: int, top: int) -> list[tuple[str, float, float]]:
    """Top operators by self CPU time: (name, ms per inference, share of the total)."""
    from torch.profiler import ProfilerActivity, profile

    with torch.inference_mode(), profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(runs):
            model([image])
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events)
    return [(e.key, e.self_cpu_time_total / 1000 / runs, e.self_cpu_time_total / total) for e in events[:top]]
