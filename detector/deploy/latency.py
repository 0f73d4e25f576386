"""CPU latency of a detector as it is deployed: the median wall time of repeated runs on one image.

`torch` times what `detector.predict` runs (`detector.modeling.inference.optimize_for_inference`: batch norm
folded, channels-last); `onnxruntime` the exported fp32 ONNX file (`detector.deploy.export`) and
`onnxruntime-int8` its int8 form (`detector.deploy.int8`), both on ONNX Runtime's CPU provider. torch and
ONNX Runtime are imported when a model is timed, so the backend names load without them.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, get_args

if TYPE_CHECKING:
    import torch

    from detector.config import DetectorConfig

LatencyBackend = Literal["torch", "onnxruntime", "onnxruntime-int8"]
LATENCY_BACKENDS: tuple[str, ...] = get_args(LatencyBackend)
"""How latency is measured: `torch` runs the folded channels-last eager copy that predict/evaluate use;
`onnxruntime` / `onnxruntime-int8` run the fp32 / int8 ONNX file that `detector.export` writes."""
INT8_TIMING_CALIBRATION = 4
"""Random images that calibrate the int8 model timed for latency: ranges do not change its speed."""


@dataclass(frozen=True)
class Latency:
    median_ms: float
    spread_ms: float
    runs: int


def deployed_runner(config: DetectorConfig, backend: str, threads: int, scratch: Path) -> Callable[[torch.Tensor], object]:
    """The model of `config` (random weights: latency does not depend on them) as `backend` deploys it, as `run(image)`."""
    import torch

    from detector.modeling.inference import optimize_for_inference
    from detector.modeling.model import build_detector

    detector = build_detector(config, num_classes=config.model.num_classes, load_weights=False)
    if backend == "torch":
        model = optimize_for_inference(detector)
        return lambda image: model([image])
    from detector.deploy.export import export_model
    from detector.deploy.runner import onnx_session, run_session

    size = (config.input.min_size, config.input.max_size)
    path = export_model(detector, scratch / "fp32.onnx", "onnx", size)
    if backend == "onnxruntime-int8":
        from detector.deploy.int8 import quantize_int8

        generator = torch.Generator().manual_seed(1)
        images = [torch.rand(3, *size, generator=generator) for _ in range(INT8_TIMING_CALIBRATION)]
        path = quantize_int8(path, scratch / "int8.onnx", images)
    session = onnx_session(path, threads=threads)
    return lambda image: run_session(session, image)


def time_latency(config: DetectorConfig, backend: str, threads: int, runs: int, warmup: int) -> Latency:
    """Median and interquartile range of `runs` timed runs (after `warmup`) on one seeded random image of the
    config's test size, with `threads` threads."""
    import numpy as np
    import torch

    image = torch.rand(3, config.input.min_size, config.input.max_size, generator=torch.Generator().manual_seed(0))
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)  # the torch backend's threads; ONNX Runtime sets its own
    try:
        with tempfile.TemporaryDirectory(prefix="fbnetv3od-latency-") as scratch:
            run = deployed_runner(config, backend, threads, Path(scratch))  # outside inference mode: the ONNX exporter traces
            with torch.inference_mode():
                for _ in range(warmup):
                    run(image)
                times = []
                for _ in range(runs):
                    start = time.perf_counter()
                    run(image)
                    times.append((time.perf_counter() - start) * 1000.0)
    finally:
        torch.set_num_threads(previous)
    q1, median, q3 = np.percentile(times, [25, 50, 75])
    return Latency(float(median), float(q3 - q1), runs)
