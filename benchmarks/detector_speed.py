"""Detector speed: FBNetV3OD beside torchvision's MobileNetV3 Faster R-CNNs on the CPU.

    OMP_WAIT_POLICY=PASSIVE python -m benchmarks.detector_speed [--repeats 20] [--train-steps 8] [--threads 2 1]
        [--calibration-images ../shared/data/raccoon/images]

Two settings, torchvision's own test settings of its two models: input 320/640 with 150/150 RPN
test proposals (`fasterrcnn_mobilenet_v3_large_320_fpn`) and 800/1333 with 1000/1000
(`fasterrcnn_mobilenet_v3_large_fpn`); FBNetV3OD a_dsmask and a (C4) run with the same input size
and proposal counts. Per setting: batch-1 inference latency (each of `--threads`, the first being
the headline), the time per part (transform, trunk, RPN, RoI heads; forward hooks), params and
FLOPs; at the first setting also training throughput (SGD steps on batch 2 with synthetic boxes),
ONNX Runtime latency of our exported model in fp32 and int8 (`detector.deploy.int8`, calibrated on
`--calibration-images` or, without them, on random images: ranges do not change the speed) and a
row at d2go's own test proposals (1000/30).
Every model also runs as the inference copy that `detector.predict` and `detector.evaluate` use
(`detector.modeling.inference.optimize_for_inference`: batch norm folded, channels-last), torchvision's
model too, so that both sides get the same treatment. All models run interleaved in each repeat,
so the ratios share the noise. The goal (<= `--goal` x the baseline's latency at 320) is checked
for our inference copy against torchvision's model as it ships, and against its inference copy;
when it is missed a `torch.profiler` table of the top operators is added. The int8 goals (<= `--int8-goal`
x torchvision's model and <= `--int8-fp32-goal` x our ONNX fp32, at the first thread count) add
ONNX Runtime's per-operator profile of both files when missed. Writes the section "Detector speed" of BENCHMARKS.md and `benchmarks/figures/detector_latency.png`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode
from torchvision.models.detection import fasterrcnn_mobilenet_v3_large_320_fpn, fasterrcnn_mobilenet_v3_large_fpn

from benchmarks.common import BENCHMARKS_MD, SHARED_NOTE, figure_link, figure_path, header, interleaved, median, write_section
from benchmarks.detector_speed_report import (
    D2GO_ROW,
    GOAL_COPY,
    GOAL_MODEL,
    INFERENCE,
    INT8_ROW,
    ONNX_ROW,
    int8_goals,
    medians_ms,
    model_table,
    plot,
    where_time_goes,
)
from benchmarks.profiling import PARTS, onnx_call, onnx_files, part_times, profile_onnx, profile_ops
from detector.modeling.inference import optimize_for_inference
from detector.modeling.model import build_detector

SECTION = "Detector speed"
OURS = {"FBNetV3OD a_dsmask": "fbnetv3_a_dsmask", "FBNetV3OD a": "fbnetv3_a"}


@dataclass(frozen=True)
class Setting:
    """One input size and proposal budget, applied to every model alike, and the torchvision model made for it."""

    min_size: int
    max_size: int
    pre_nms: int
    post_nms: int
    image: tuple[int, int]  # H, W of the random test image: multiples of 32, so torchvision pads nothing
    baseline: str
    builder: Callable[..., nn.Module]

    @property
    def label(self) -> str:
        return f"input {self.min_size}/{self.max_size}, RPN test proposals {self.pre_nms}/{self.post_nms}"


SETTINGS = {
    "320": Setting(320, 640, 150, 150, (320, 416), "tv mobilenet_v3_large_320_fpn", fasterrcnn_mobilenet_v3_large_320_fpn),
    "800": Setting(800, 1333, 1000, 1000, (800, 1056), "tv mobilenet_v3_large_fpn", fasterrcnn_mobilenet_v3_large_fpn),
}


def ours(arch: str, setting: Setting, pre_nms: int, post_nms: int, num_classes: int) -> nn.Module:
    """FBNetV3OD with random weights, BN and nothing frozen, at `setting`'s input size."""
    config = {
        "model": {"arch": arch, "weights": None, "freeze_at": 0, "norm": "BN",
                  "rpn": {"pre_nms_topk_test": pre_nms, "post_nms_topk_test": post_nms}},
        "input": {"min_size": setting.min_size, "max_size": setting.max_size},
    }
    return build_detector(config, num_classes=num_classes, load_weights=False)


def build_models(setting: Setting, d2go_row: bool, num_classes: int = 80) -> dict[str, nn.Module]:
    """Ours and the setting's torchvision model (no weights at all), same input size and proposals, in eval mode."""
    models = {name: ours(arch, setting, setting.pre_nms, setting.post_nms, num_classes) for name, arch in OURS.items()}
    models[setting.baseline] = setting.builder(
        weights=None, weights_backbone=None, num_classes=num_classes + 1, min_size=setting.min_size,
        max_size=setting.max_size, rpn_pre_nms_top_n_test=setting.pre_nms, rpn_post_nms_top_n_test=setting.post_nms,
    )
    models = {name: model.eval() for name, model in models.items()}
    models |= {name + INFERENCE: optimize_for_inference(model) for name, model in models.items()}
    if d2go_row:
        models[D2GO_ROW] = ours(OURS[GOAL_MODEL], setting, 1000, 30, num_classes).eval()
    return models


def count_flops(model: nn.Module, image: Tensor) -> int:
    """FLOPs of one inference as `FlopCounterMode` counts them: 2 x MACs of convolutions and matmuls only."""
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        model([image])
    return int(counter.get_total_flops())


def synthetic_batch(setting: Setting, batch: int, num_classes: int, seed: int = 0) -> tuple[list[Tensor], list[dict[str, Tensor]]]:
    """`batch` random images with 4 random boxes each: enough for every loss to be non-trivial."""
    g = torch.Generator().manual_seed(seed)
    h, w = setting.image
    images = [torch.rand(3, h, w, generator=g) for _ in range(batch)]
    targets = []
    for _ in range(batch):
        xy = torch.rand(4, 2, generator=g) * torch.tensor([w * 0.7, h * 0.7])
        wh = (0.1 + 0.2 * torch.rand(4, 2, generator=g)) * torch.tensor([w, h])
        targets.append({"boxes": torch.cat([xy, xy + wh], 1), "labels": torch.randint(1, num_classes + 1, (4,), generator=g)})
    return images, targets


def train_step_fns(models: dict[str, nn.Module], setting: Setting, batch: int, num_classes: int) -> dict[str, Callable[[], None]]:
    """One SGD step of each model (train mode) on the same synthetic batch."""
    images, targets = synthetic_batch(setting, batch, num_classes)

    def step_of(model: nn.Module) -> Callable[[], None]:
        optimizer = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)

        def step() -> None:
            losses = model(images, [dict(t) for t in targets])
            optimizer.zero_grad(set_to_none=True)
            sum(losses.values()).backward()
            optimizer.step()
        return step

    return {name: step_of(model.train()) for name, model in models.items()}


def latencies(models: dict[str, nn.Module], image: Tensor, onnx: dict[str, Path], args: argparse.Namespace) -> dict[int, dict[str, list[float]]]:
    """Seconds per inference of every model and every ONNX file, interleaved, per thread count."""
    times = {}
    for threads in args.threads:
        torch.set_num_threads(threads)
        calls: dict[str, Callable[[], object]] = {n: (lambda m=m: m([image])) for n, m in models.items()}
        calls |= {name: onnx_call(path, image, threads) for name, path in onnx.items()}
        with torch.inference_mode():
            times[threads] = interleaved(calls, args.repeats, args.warmup)
    torch.set_num_threads(args.threads[0])
    return times


def measure_setting(key: str, args: argparse.Namespace, first: bool) -> dict[str, Any]:
    """Everything measured at one setting; training, ONNX, the d2go row and profiling only at the `first` one."""
    setting = SETTINGS[key]
    models = build_models(setting, d2go_row=first)
    image = torch.rand(3, *setting.image, generator=torch.Generator().manual_seed(0))
    out: dict[str, Any] = {"setting": setting}
    out["params"] = {n: sum(p.numel() for p in m.parameters()) for n, m in models.items()}
    out["flops"] = {n: count_flops(m, image) for n, m in models.items()}
    with tempfile.TemporaryDirectory() as folder:
        onnx = {}
        if first and not args.no_onnx:
            fp32, int8 = onnx_files(models[GOAL_MODEL], setting.image, (setting.min_size, setting.max_size), Path(folder),
                                   args.calibration_images, args.calibration_count)
            onnx = {ONNX_ROW: fp32, INT8_ROW: int8}
        out["seconds"] = latencies(models, image, onnx, args)
        if onnx:
            ms = {n: median(t) for n, t in out["seconds"][args.threads[0]].items()}
            if ms[INT8_ROW] > args.int8_goal * ms[setting.baseline] or ms[INT8_ROW] > args.int8_fp32_goal * ms[ONNX_ROW]:
                runs = max(1, args.repeats // 4)
                out["onnx_profile"] = {n: profile_onnx(p, image, args.threads[0], runs, args.top_ops) for n, p in onnx.items()}
    profiled = [GOAL_MODEL, GOAL_COPY, setting.baseline, setting.baseline + INFERENCE, D2GO_ROW]
    out["parts_ms"] = part_times({n: models[n] for n in profiled if n in models}, image, max(1, args.repeats // 4))
    if first:
        # training ignores test-time proposals; inference copies cannot train
        trained = {n: m for n, m in models.items() if n != D2GO_ROW and not n.endswith(INFERENCE)}
        steps = interleaved(train_step_fns(trained, setting, args.batch, 80), args.train_steps, args.warmup)
        out["train_ips"] = {n: args.batch / median(t) for n, t in steps.items()}
        for model in models.values():
            model.eval()
        ms = {n: median(t) for n, t in out["seconds"][args.threads[0]].items()}
        if ms[GOAL_COPY] > args.goal * ms[setting.baseline]:
            runs = max(1, args.repeats // 4)
            out["profile"] = {n: profile_ops(models[n], image, runs, args.top_ops) for n in (GOAL_COPY, GOAL_MODEL, setting.baseline)}
    return out


def report(results: list[dict[str, Any]], args: argparse.Namespace, argv: list[str], figure: Path) -> str:
    first, threads = results[0], args.threads[0]
    baseline = first["setting"].baseline
    latency = medians_ms(first, threads)
    ratio = latency[GOAL_COPY] / latency[baseline]
    others = [f"{medians_ms(first, t)[GOAL_COPY] / medians_ms(first, t)[baseline]:.2f} with {t} thread(s)" for t in args.threads[1:]]
    best = min(first["seconds"][threads][GOAL_COPY]) / min(first["seconds"][threads][baseline])
    same_treatment = [f"{medians_ms(first, t)[GOAL_COPY] / medians_ms(first, t)[baseline + INFERENCE]:.2f} ({t} thr.)" for t in args.threads]
    eager = [f"{medians_ms(first, t)[GOAL_MODEL] / medians_ms(first, t)[baseline]:.2f} ({t} thr.)" for t in args.threads]
    lines = header(
        SECTION, "detector_speed.py", argv,
        f"torch {torch.__version__}, torchvision {torchvision.__version__}; torch threads {args.threads} "
        "(ONNX Runtime: as many intra-op threads)",
        f"{args.repeats} interleaved repeats after {args.warmup} warm-up round(s); training: {args.train_steps} (after {args.warmup}) "
        f"interleaved SGD steps on batch {args.batch} per model ({threads} threads)",
        "Random weights, 80 classes (81 outputs with background), BN, nothing frozen; one random image at the size below. "
        "FLOPs: `torch.utils.flop_counter.FlopCounterMode` on one inference, i.e. 2 x MACs of convolutions and "
        "matrix products (RoIAlign, NMS, elementwise ops not counted); the box head's share scales with the proposals "
        "left after NMS, which with random weights varies from model to model.",
    )
    lines += [SHARED_NOTE, ""]
    lines += [
        f"**Goal** (FBNetV3OD a_dsmask <= {args.goal}x the latency of `fasterrcnn_mobilenet_v3_large_320_fpn` at input 320, "
        f"same proposals), for our model as `detector.predict`/`detector.evaluate` run it (BN folded, channels-last) against "
        f"torchvision's as it ships: **{'met' if ratio <= args.goal else 'NOT met'}**: ratio of medians {ratio:.2f} "
        f"({latency[GOAL_COPY]:.0f} ms vs {latency[baseline]:.0f} ms, {threads} threads); ratio of minima {best:.2f}"
        + (f"; {', '.join(others)}" if others else "") + ". "
        f"Against torchvision's model given the same treatment: {', '.join(same_treatment)}. "
        f"Both eager (batch norm as its own op, NCHW): {', '.join(eager)}.",
        "",
    ]
    for result in results:
        setting = result["setting"]
        lines += [f"### {setting.label}, image {setting.image[0]}x{setting.image[1]}", "", *model_table(result, args), "",
                  f"Time per part (ms per inference, {threads} threads, forward hooks; mean of {max(1, args.repeats // 4)}):", "",
                  "| part | " + " | ".join(result["parts_ms"]) + " |", "|---|" + "---|" * len(result["parts_ms"])]
        for path, label in PARTS:
            lines.append(f"| {label} (`{path}`) | " + " | ".join(f"{p[path]:.1f}" for p in result["parts_ms"].values()) + " |")
        lines.append("")
    if INT8_ROW in latency:
        calibration = (f"{args.calibration_count} images of `{args.calibration_images}`" if args.calibration_images
                       else f"{args.calibration_count} random images")
        lines += [f"**Int8** (`detector.deploy.int8`: ONNX Runtime static QDQ, per-channel int8 weights, uint8 activations, "
                  f"calibrated on {calibration}; random weights as above, so only the speed means something here; accuracy: "
                  "\"Int8 accuracy\" below):", "", *int8_goals(first, args), ""]
    lines += [where_time_goes(first, threads), ""]
    if "profile" in first:
        lines += ["### Where the time goes (torch.profiler, input 320)", "",
                  "Top operators by self CPU time, ms per inference (share of the model's total):", "",
                  "| rank | " + " | ".join(first["profile"]) + " |", "|---|" + "---|" * len(first["profile"])]
        for rank in range(args.top_ops):
            cells = [f"`{ops[rank][0]}` {ops[rank][1]:.1f} ({ops[rank][2]:.0%})" if rank < len(ops) else ""
                     for ops in first["profile"].values()]
            lines.append(f"| {rank + 1} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += [figure_link(args.output, figure, "detector latency"), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=["320", "800"],
                        help="input settings; the first also gets training, ONNX, the d2go row and profiling")
    parser.add_argument("--repeats", type=int, default=20, help="interleaved latency repeats per model")
    parser.add_argument("--warmup", type=int, default=2, help="untimed rounds before latency and training timings")
    parser.add_argument("--train-steps", type=int, default=8, help="interleaved training steps per model")
    parser.add_argument("--batch", type=int, default=2, help="training batch size")
    parser.add_argument("--threads", type=int, nargs="+", default=[2, 1], help="torch threads; the first is the headline")
    parser.add_argument("--goal", type=float, default=0.5, help="latency ratio goal of a_dsmask vs tv 320_fpn")
    parser.add_argument("--top-ops", type=int, default=10)
    parser.add_argument("--no-onnx", action="store_true", help="skip the ONNX exports (fp32 and int8) and their timing")
    parser.add_argument("--int8-goal", type=float, default=0.25, help="latency ratio goal of int8 a_dsmask vs tv 320_fpn")
    parser.add_argument("--int8-fp32-goal", type=float, default=0.6, help="latency ratio goal of int8 vs our ONNX fp32")
    parser.add_argument("--calibration-images", type=Path, help="int8 calibration folder (default: random images)")
    parser.add_argument("--calibration-count", type=int, default=16, help="int8 calibration images")
    parser.add_argument("--output", type=Path, default=BENCHMARKS_MD)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads[0])
    torch.manual_seed(0)
    results = [measure_setting(key, args, first=i == 0) for i, key in enumerate(args.settings)]
    figure = figure_path(args.output, "detector_latency.png")
    plot(results, args.threads[0], args.goal, figure)
    section = report(results, args, argv, figure)
    write_section(args.output, SECTION, section)
    print(section)
    return section


if __name__ == "__main__":
    main()
