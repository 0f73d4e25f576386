"""`python -m detector.export`: the inference model of a checkpoint as a TorchScript or ONNX file (`detector.deploy.export`).

    python -m detector.export --checkpoint run/model_final.pt --format onnx --output model.onnx --check

`--check` runs the exported file and compares it with the PyTorch model.

`--int8` writes the int8 form instead (`detector.deploy.int8`: ONNX Runtime static quantization
calibrated on `--calibration-images`); `--check` then also compares int8 with fp32 detections.
Every ONNX file carries its class names and category ids (`detector.deploy.runner`), so that
`detector.evaluate --model` and `detector.predict --model` run it without the checkpoint.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.cli import ArgumentParser
from core.errors import ConfigError, run_cli
from detector.deploy.formats import DEFAULT_CALIBRATION_COUNT, DEFAULT_OPSET, FORMATS

if TYPE_CHECKING:
    from torch import nn


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = ArgumentParser(prog="python -m detector.export", description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", required=True, help="checkpoint written by detector.train")
    parser.add_argument("--format", required=True, choices=FORMATS,
                        help="onnx (runs on ONNX Runtime; needed for --int8, evaluate/predict --model) or torchscript (torch.jit)")
    parser.add_argument("--output", required=True, help="file to write (.onnx / .pt)")
    parser.add_argument("--image-size", type=int, nargs=2, metavar=("H", "W"), help="example/check size (default: config input size)")
    parser.add_argument("--opset", type=int, default=DEFAULT_OPSET, help=f"ONNX opset (>= 16 with aligned RoIAlign; default {DEFAULT_OPSET})")
    parser.add_argument("--check", action="store_true", help="run the exported file and compare it with PyTorch (int8: also with fp32)")
    parser.add_argument("--check-image", help="image for --check (default: random pixels, with --int8 the first calibration image)")
    parser.add_argument("--no-ema", action="store_true", help="export the raw weights even when EMA weights are saved")
    int8 = parser.add_argument_group("int8 (ONNX Runtime static quantization; needs --format onnx)")
    int8.add_argument("--int8", action="store_true", help="write the int8 model, calibrated on --calibration-images")
    int8.add_argument("--calibration-images", help="folder of the user's own images to calibrate activation ranges on")
    int8.add_argument("--calibration-count", type=int, default=DEFAULT_CALIBRATION_COUNT,
                      help=f"images used: all, or a seeded random subset of a larger folder (default {DEFAULT_CALIBRATION_COUNT})")
    args = parser.parse_args(argv)
    if args.image_size and min(args.image_size) < 16:
        parser.error(f"--image-size must be at least 16 x 16, got {args.image_size}")
    if args.int8 and args.format != "onnx":
        raise ConfigError(f"--int8 needs --format onnx (the int8 model runs on ONNX Runtime), got --format {args.format}")
    if args.int8 and not args.calibration_images:
        raise ConfigError("--int8 needs --calibration-images DIR: int8 ranges are calibrated on your own images")
    if args.calibration_images and not args.int8:
        raise ConfigError("--calibration-images is only used with --int8")
    return args


def _print_check(stats: dict[str, float]) -> None:
    print(
        f"check passed on {stats['images']} images, {stats['detections']} detections: "
        f"max |Δbox| {stats['max_box_px']:.2e} px ({stats['max_box_rel']:.1e} of the longer side), "
        f"max |Δscore| {stats['max_score']:.2e}, labels equal"
    )
    if stats["detections"] == 0:
        print("warning: no detections to compare; pass --check-image with objects in it for a meaningful check")


def _export_int8(args: argparse.Namespace, detector: nn.Module, checkpoint: dict[str, Any], image_size: tuple[int, int]) -> Path:
    """Calibration images first (bad ones fail before any work), then fp32 export, quantization and the checks."""
    from detector.deploy.export import compare_with_pytorch, export_metadata, export_model, load_exported
    from detector.deploy.int8 import calibration_paths, compare_int8, format_comparison, load_calibration_images, quantize_int8
    from detector.deploy.runner import onnx_session

    paths = calibration_paths(args.calibration_images, args.calibration_count)
    images = load_calibration_images(paths, detector.config.input.min_size, detector.config.input.max_size)
    metadata = export_metadata(checkpoint)
    with tempfile.TemporaryDirectory(prefix="fbnetv3od-export-") as scratch:
        fp32 = export_model(detector, Path(scratch, "fp32.onnx"), "onnx", image_size, args.opset, metadata)
        start = time.perf_counter()
        path = quantize_int8(fp32, args.output, images, metadata=metadata)
        print(f"quantized to int8 on {len(images)} calibration images in {time.perf_counter() - start:.1f} s: "
              f"{path} ({path.stat().st_size / 1e6:.1f} MB)")
        if args.check:
            from detector.data.images import load_rgb_image

            check = [load_rgb_image(args.check_image or paths[0])]
            _print_check(compare_with_pytorch(detector, load_exported(fp32, "onnx"), check))
            print(format_comparison(compare_int8(onnx_session(fp32), onnx_session(path), check)))
    return path


@run_cli
def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    # torch, ONNX and the detector only now: `--help` and a bad flag answer at once
    from detector.deploy.export import check_images, compare_with_pytorch, export_metadata, export_model, load_exported
    from detector.training.checkpoint import model_from_checkpoint

    detector, checkpoint = model_from_checkpoint(args.checkpoint, device="cpu", use_ema=not args.no_ema)
    image_size = tuple(args.image_size) if args.image_size else (detector.config.input.min_size, detector.config.input.max_size)
    if args.int8:
        _export_int8(args, detector, checkpoint, image_size)
        return
    start = time.perf_counter()
    path = export_model(detector, args.output, args.format, image_size, args.opset, export_metadata(checkpoint))
    print(f"exported {args.format} to {path} ({path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - start:.1f} s")
    if args.check:
        _print_check(compare_with_pytorch(detector, load_exported(path, args.format), check_images(image_size, args.check_image)))


if __name__ == "__main__":
    main()
