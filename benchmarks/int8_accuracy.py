"""Int8 accuracy: COCO AP and latency of a trained checkpoint, its ONNX fp32 file and its int8 files, on the user's data.

    OMP_WAIT_POLICY=PASSIVE python -m benchmarks.int8_accuracy --checkpoint runs/raccoon/model_final.pt \
        --data ../shared/data/raccoon [--calibration-images DIR] [--counts 64 256] [--seeds 0 1 2]

The checkpoint is evaluated as `detector.evaluate --checkpoint` runs it; the fp32 and int8 ONNX
files as `detector.evaluate --model` runs them (one image at a time, as deployed). The int8 files
are quantized exactly as `detector.export --int8` does (`detector.deploy.int8`), on calibration
subsets of each size in `--counts`, drawn with each seed of `--seeds` (a folder smaller than the
count gives all its images, once): how far int8 AP moves with the calibration images says how
much of an int8-vs-fp32 gap is noise. Calibrate on training images, not on the evaluated split.
The same files are then timed, interleaved, on the first evaluated image at each of `--threads`,
beside the checkpoint's PyTorch inference copy and torchvision's `fasterrcnn_mobilenet_v3_large_320_fpn`
(random weights, the checkpoint's input size and test proposals). Writes the section "Int8 accuracy"
of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch
from torchvision.models.detection import fasterrcnn_mobilenet_v3_large_320_fpn

from benchmarks.common import BENCHMARKS_MD, SHARED_NOTE, header, interleaved, median, publish
from benchmarks.profiling import onnx_call
from detector.data.dataset import CocoDetection
from detector.data.images import find_images
from detector.deploy.export import export_metadata, export_model
from detector.deploy.int8 import calibration_paths, load_calibration_images, quantize_int8
from detector.deploy.runner import ExportedDetector
from detector.evaluation.coco import evaluate_coco
from detector.evaluation.metric_names import AP_KEYS
from detector.modeling.inference import optimize_for_inference
from detector.training.checkpoint import model_from_checkpoint

SECTION = "Int8 accuracy"
KEYS = AP_KEYS


def evaluate(model: Any, dataset: CocoDetection, batch_size: int) -> dict[str, Any]:
    return evaluate_coco(model, dataset, batch_size=batch_size, progress=False)


def latency_table(detector: torch.nn.Module, files: dict[str, Path], image: torch.Tensor, args: argparse.Namespace) -> list[str]:
    """Median ms per image of the deployed forms and torchvision's model, interleaved, per thread count."""
    config = detector.config
    baseline = "tv mobilenet_v3_large_320_fpn (same input size and proposals)"
    tv = fasterrcnn_mobilenet_v3_large_320_fpn(
        weights=None, weights_backbone=None, num_classes=len(detector.roi_heads.box_predictor.cls_score.bias),
        min_size=config.input.min_size, max_size=config.input.max_size,
        rpn_pre_nms_top_n_test=config.model.rpn.pre_nms_topk_test, rpn_post_nms_top_n_test=config.model.rpn.post_nms_topk_test,
    ).eval()
    copy = optimize_for_inference(detector)
    title = (f"Latency of these models on one validation image ({image.shape[-2]}x{image.shape[-1]}), median of {args.repeats} "
             "interleaved runs (ms; ratio to torchvision's model):")
    lines = [title, "",
             "| model | " + " | ".join(f"{t} thread(s)" for t in args.threads) + " |", "|---|" + "---|" * len(args.threads)]
    times: dict[int, dict[str, float]] = {}
    for threads in args.threads:
        torch.set_num_threads(threads)
        calls = {"checkpoint, PyTorch inference copy": lambda: copy([image]), baseline: lambda: tv([image])}
        calls |= {name: onnx_call(path, image, threads) for name, path in files.items()}
        with torch.inference_mode():
            times[threads] = {name: median(t) * 1000 for name, t in interleaved(calls, args.repeats, 2).items()}
    for name in times[args.threads[0]]:
        cells = [f"{times[t][name]:.1f} ({times[t][name] / times[t][baseline]:.2f}x)" for t in args.threads]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def row(name: str, metrics: dict[str, Any], reference: dict[str, Any] | None) -> str:
    cells = [f"{metrics[k]:.2f}" for k in KEYS]
    delta = f"{metrics['ap'] - reference['ap']:+.2f}" if reference else "-"
    per_class = ", ".join(f"{c} {v:.2f}" for c, v in metrics["per_class_ap"].items())
    return f"| {name} | " + " | ".join(cells) + f" | {delta} | {per_class} |"


def main(argv: list[str] | None = None) -> str:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, required=True, help="model_final.pt of detector.train")
    parser.add_argument("--data", type=Path, required=True, help="data folder (DIR/val.json and DIR/images) evaluated on")
    parser.add_argument("--split", default="val")
    parser.add_argument("--calibration-images", type=Path, help="calibration folder (default: the images of DIR/train.json)")
    parser.add_argument("--counts", type=int, nargs="+", default=[64, 256], help="calibration subset sizes")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="subset seeds per size")
    parser.add_argument("--threads", type=int, nargs="+", default=[2, 1], help="latency thread counts")
    parser.add_argument("--repeats", type=int, default=30, help="interleaved latency runs per model")
    parser.add_argument("--output", type=Path, default=BENCHMARKS_MD)
    args = parser.parse_args(argv)

    detector, checkpoint = model_from_checkpoint(args.checkpoint)
    dataset = CocoDetection(args.data / f"{args.split}.json", args.data / "images")
    min_size, max_size = detector.config.input.min_size, detector.config.input.max_size
    results: dict[str, dict[str, Any]] = {"checkpoint (PyTorch, batch 4)": evaluate(optimize_for_inference(detector), dataset, 4)}
    int8_ap: dict[int, list[float]] = {}
    calibration = str(args.calibration_images) if args.calibration_images else f"the images of {args.data / 'train.json'}"
    with tempfile.TemporaryDirectory() as folder:
        if args.calibration_images is None:
            train = CocoDetection(args.data / "train.json", args.data / "images")
            args.calibration_images = Path(folder, "train_images")
            args.calibration_images.mkdir()
            for path in {Path(train.coco.imgs[i]["file_name"]) for i in train.image_ids}:
                (args.calibration_images / path.name).symlink_to((args.data / "images" / path).resolve())
        available = len(find_images([args.calibration_images]))
        fp32 = export_model(detector, Path(folder, "fp32.onnx"), "onnx", (min_size, max_size), metadata=export_metadata(checkpoint))
        reference = results["ONNX fp32"] = evaluate(ExportedDetector(fp32), dataset, 1)
        for count in args.counts:
            for seed in args.seeds if count < available else args.seeds[:1]:
                images = load_calibration_images(calibration_paths(args.calibration_images, count, seed), min_size, max_size)
                int8 = quantize_int8(fp32, Path(folder, f"int8_{count}_{seed}.onnx"), images, metadata=export_metadata(checkpoint))
                name = f"ONNX int8, {len(images)} calibration images" + (f", seed {seed}" if count < available else " (all)")
                results[name] = evaluate(ExportedDetector(int8), dataset, 1)
                int8_ap.setdefault(len(images), []).append(results[name]["ap"] - reference["ap"])
                print(row(name, results[name], reference), flush=True)
        image = dataset[0][0].as_subclass(torch.Tensor)
        timed = latency_table(detector, {"ONNX fp32": fp32, f"ONNX int8, {len(images)} calibration images": int8}, image, args)

    lines = header(SECTION, "int8_accuracy.py", argv,
                   f"`{args.checkpoint}` evaluated on `{args.data / args.split}.json` ({len(dataset)} images); calibration on "
                   f"{calibration} ({available} images)")
    lines += [SHARED_NOTE, "", "| model | AP | AP50 | AP75 | AP vs ONNX fp32 | per-class AP |", "|---|---|---|---|---|---|"]
    lines += [row(name, metrics, None if name.startswith("checkpoint") or name == "ONNX fp32" else reference)
              for name, metrics in results.items()]
    summary = [f"{n} images: {statistics.mean(d):+.2f} AP on average over {len(d)} subset(s) (range {min(d):+.2f} .. {max(d):+.2f})"
               for n, d in int8_ap.items()]
    lines += ["", "Int8 minus fp32 (both ONNX, one image at a time): " + "; ".join(summary) + ".", "", *timed]
    return publish(args.output, SECTION, lines)


if __name__ == "__main__":
    main()
