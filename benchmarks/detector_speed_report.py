"""The report half of `benchmarks.detector_speed`: its model names, median latencies, the latency figure, where the
time goes, the int8 goals and the model table."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from benchmarks.common import median
from benchmarks.profiling import PARTS

GOAL_MODEL = "FBNetV3OD a_dsmask"
D2GO_ROW = "FBNetV3OD a_dsmask, d2go test proposals 1000/30"
ONNX_ROW = "FBNetV3OD a_dsmask, ONNX Runtime"
INT8_ROW = "FBNetV3OD a_dsmask, ONNX Runtime int8"
INFERENCE = ", BN folded + channels-last"  # suffix of a model's `optimize_for_inference` copy
GOAL_COPY = GOAL_MODEL + INFERENCE
POOLER = 6  # FBNetV3OD's default RoIAlign output size, used by every model built here


def medians_ms(result: dict[str, Any], threads: int) -> dict[str, float]:
    return {n: median(t) * 1000 for n, t in result["seconds"][threads].items()}


def plot(results: list[dict[str, Any]], threads: int, goal: float, path: Path) -> None:
    """Horizontal bars of median latency per model, one panel per setting."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [len(r["seconds"][threads]) for r in results]
    fig, axes = plt.subplots(len(results), 1, figsize=(9, 1.2 + 0.5 * sum(rows) + 0.6 * len(rows)), squeeze=False,
                             gridspec_kw={"height_ratios": rows})
    for ax, result in zip(axes[:, 0], results, strict=True):
        latency = medians_ms(result, threads)
        baseline = latency[result["setting"].baseline]
        names = list(latency)[::-1]
        colors = [("tab:gray" if n.endswith(INFERENCE) else "silver") if n.startswith("tv ") else "tab:orange" if n == ONNX_ROW
                  else "tab:green" if n == INT8_ROW else "tab:blue" if n.endswith(INFERENCE) else "lightsteelblue" for n in names]
        bars = ax.barh(names, [latency[n] for n in names], color=colors)
        ax.bar_label(bars, [f"{latency[n]:.0f} ms ({latency[n] / baseline:.2f}x)" for n in names], padding=3, fontsize=9)
        ax.set_title(result["setting"].label, fontsize=10)
        ax.set_xlim(0, max(latency.values()) * 1.35)
        ax.tick_params(axis="y", labelsize=9)
        if result is results[0]:
            ax.axvline(goal * baseline, color="tab:red", linestyle="--", linewidth=1, label=f"goal: {goal}x the torchvision model")
            ax.legend(loc="lower right", fontsize=8)
    axes[-1, 0].set_xlabel(f"median CPU latency, batch 1, {threads} threads (ms)\n(ratio to the torchvision model)")
    fig.suptitle("Detector inference latency, random weights (shared machine: noisy)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def shares(parts: dict[str, float]) -> str:
    """'label 12 ms (40%), ...' for the parts that take at least 5% of the total, largest first."""
    total = sum(parts.values())
    labels = dict(PARTS)
    big = sorted(((ms, path) for path, ms in parts.items() if ms >= 0.05 * total), reverse=True)
    return ", ".join(f"{labels[path]} {ms:.0f} ms ({ms / total:.0%})" for ms, path in big)


def where_time_goes(result: dict[str, Any], threads: int) -> str:
    """One paragraph, computed from the measurements, on where the goal model and the baseline spend their time."""
    parts, latency, baseline = result["parts_ms"], medians_ms(result, threads), result["setting"].baseline
    text = (f"Where the time goes at input 320: {GOAL_COPY}: {shares(parts[GOAL_COPY])}; {GOAL_MODEL}: {shares(parts[GOAL_MODEL])}; "
            f"{baseline}: {shares(parts[baseline])}.")
    copy_gain = latency[GOAL_MODEL] / latency[GOAL_COPY]
    text += (f" Folding batch norm into the convolutions and switching to channels-last (NHWC, where oneDNN's depthwise and 1x1 "
             f"kernels are faster) makes {GOAL_MODEL} {copy_gain:.2f}x faster and torchvision's model "
             f"{latency[baseline] / latency[baseline + INFERENCE]:.2f}x faster: FBNet is nearly all depthwise and 1x1 convolutions "
             "with a batch norm after each.")
    profile = result.get("profile", {}).get(GOAL_COPY)
    if profile:
        share = {name: fraction for name, _, fraction in profile}
        text += f" By operator, convolutions (`aten::mkldnn_convolution`) take {share.get('aten::mkldnn_convolution', 0):.0%} of {GOAL_COPY}'s CPU time."
    if D2GO_ROW in latency:
        text += (f" The C4 box head runs the last FBNet stage on every proposal's {POOLER}x{POOLER} RoI, so its cost grows "
                 f"with the proposals kept (eager model): {parts[GOAL_MODEL]['roi_heads.box_head']:.0f} ms for 150, "
                 f"{parts[D2GO_ROW]['roi_heads.box_head']:.0f} ms for d2go's own 30 (1000 before NMS), where the whole model takes "
                 f"{latency[D2GO_ROW]:.0f} ms, {latency[D2GO_ROW] / latency[baseline]:.2f}x the baseline.")
    if ONNX_ROW in latency:
        text += (f" Exported to ONNX and run by ONNX Runtime (BN folded into the convolutions, fused kernels), a_dsmask at 150 "
                 f"proposals takes {latency[ONNX_ROW]:.0f} ms, {latency[ONNX_ROW] / latency[baseline]:.2f}x the eager baseline; "
                 f"its int8 form {latency[INT8_ROW]:.0f} ms, {latency[INT8_ROW] / latency[ONNX_ROW]:.2f}x the fp32 file.")
    return text


def int8_goals(result: dict[str, Any], args: argparse.Namespace) -> list[str]:
    """The int8 goal line per thread count, and ONNX Runtime's operator profile when a goal is missed."""
    baseline = result["setting"].baseline
    lines = []
    for threads in args.threads:
        ms = medians_ms(result, threads)
        vs_tv, vs_fp32 = ms[INT8_ROW] / ms[baseline], ms[INT8_ROW] / ms[ONNX_ROW]
        met = vs_tv <= args.int8_goal and vs_fp32 <= args.int8_fp32_goal
        lines.append(f"- {threads} thread(s): int8 {ms[INT8_ROW]:.0f} ms = **{vs_tv:.2f}x** torchvision's model as it ships "
                     f"(goal <= {args.int8_goal}) and **{vs_fp32:.2f}x** our ONNX fp32 ({ms[ONNX_ROW]:.0f} ms; goal <= "
                     f"{args.int8_fp32_goal}): {'met' if met else 'NOT met'}" + (" (the headline)" if threads == args.threads[0] else ""))
    if "onnx_profile" in result:
        profiles = result["onnx_profile"]
        title = f"ONNX Runtime's profile ({args.threads[0]} threads), top operator types by kernel time, ms per inference (share of kernel time):"
        lines += ["", title, "", "| rank | " + " | ".join(profiles) + " |", "|---|" + "---|" * len(profiles)]
        for rank in range(args.top_ops):
            cells = [f"`{ops[rank][0]}` {ops[rank][1]:.1f} ({ops[rank][2]:.0%})" if rank < len(ops) else "" for ops in profiles.values()]
            lines.append(f"| {rank + 1} | " + " | ".join(cells) + " |")
    return lines


def model_table(result: dict[str, Any], args: argparse.Namespace) -> list[str]:
    baseline = result["setting"].baseline
    per_threads = {t: medians_ms(result, t) for t in args.threads}
    minima = {n: min(t) * 1000 for n, t in result["seconds"][args.threads[0]].items()}
    head = "| model | " + " | ".join(f"median ms, {t} thr. | x tv" for t in args.threads)
    lines = [head + f" | min ms, {args.threads[0]} thr. | params (M) | GFLOPs | train (images/s) |",
             "|---|" + "---|---|" * len(args.threads) + "---|---|---|---|"]
    for name in per_threads[args.threads[0]]:
        cells = [f"{per_threads[t][name]:.0f} | {per_threads[t][name] / per_threads[t][baseline]:.2f}" for t in args.threads]
        params, flops, ips = result["params"].get(name), result["flops"].get(name), result.get("train_ips", {}).get(name)
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {minima[name]:.0f} | "
                     f"{f'{params / 1e6:.2f}' if params else '(same)'} | {f'{flops / 1e9:.2f}' if flops else '(same)'} | "
                     f"{f'{ips:.2f}' if ips else '-'} |")
    return lines
