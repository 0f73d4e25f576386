"""Detection search: NARS vs random search on one detection experiment, with the same trial budget.

    OMP_WAIT_POLICY=PASSIVE python benchmarks/detection_search.py [--config experiments/raccoon_search.yaml] [--trials 8]
        [--set search.initial_points=4]

With the raccoon experiment a trial is 4 proxy epochs from scratch at 160-224 px, about 6-10 CPU
minutes on a shared 2-CPU machine: 8 trials per searcher (4 Sobol points, then two predicted rounds
of 2 for NARS) come to about an hour of CPU each.

Runs `python -m nars.search --searcher nars|random --num-samples N` on the same experiment (two
separate searches, each its own Ray session), then compares them with `nars.analysis`: the report
with the best-AP-so-far curves overlaid, and the AP vs FLOPs Pareto fronts of both runs on one
figure. The budget is a trial count, equal for both searchers; the CPU minutes each used are
reported beside it. Finished searches in `--runs` are reused, so a rerun only redraws.
Writes the section "Detection search" of BENCHMARKS.md and `benchmarks/figures/detection_search_*.png`.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from matplotlib import colormaps
from matplotlib.figure import Figure

from _common import BENCHMARKS_MD, REPO, SHARED_NOTE, figure_link, figure_path, header, run_search, write_section
from nars.analysis import Run, load_run, write_report

SECTION = "Detection search"
SEARCHERS = ("nars", "random")
GIGA = 1e9


def plot_fronts(runs: Sequence[Run], path: Path) -> Path:
    """Every measured trial and each run's AP vs FLOPs Pareto front, overlaid."""
    fig = Figure(figsize=(7.5, 5))
    ax = fig.subplots()
    for i, run in enumerate(runs):
        colour = colormaps.get_cmap("tab10")(i)
        data = run.measured()
        data = data[data["flops"].notna()]
        front = run.pareto("flops", run.metric)
        ax.scatter(data["flops"] / GIGA, data[run.metric], color=colour, s=22, alpha=0.45)
        ax.step(front["flops"] / GIGA, front[run.metric], where="post", color=colour, lw=2, marker="o", ms=7,
                label=f"{run.label}: front of {len(front)} ({len(data)} measured trials)")
    ax.set_xlabel("FLOPs (GFLOPs, one image at the search resolution)")
    ax.set_ylabel(f"{runs[0].metric.upper()} (%) after the proxy budget")
    ax.set_title("Accuracy vs FLOPs: each run's trials (dots) and Pareto front (line, large dots)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def section(runs: Sequence[Run], args: argparse.Namespace, argv: Sequence[str], report: Path) -> str:
    """Per searcher: trials, best AP, CPU minutes; the two figures."""
    best_so_far = figure_path(args.output, "detection_search_best_so_far.png")
    shutil.copyfile(report.parent / "best_so_far.png", best_so_far)
    fronts = plot_fronts(runs, figure_path(args.output, "detection_search_pareto.png"))
    lines = header(SECTION, "detection_search.py", argv,
                   f"Experiment `{args.config}` with {args.trials} trials per searcher; overrides: {' '.join(args.set) or 'none'}",
                   SHARED_NOTE.split(":")[0] + ".")
    metric = runs[0].metric.upper()
    lines += [f"| searcher | trials measured | best val {metric} | at GFLOPs | median {metric} of its trials | "
              f"winner's predicted {metric} | trial CPU minutes | Pareto front size |",
              "|---|---|---|---|---|---|---|---|"]
    for run in runs:
        measured = run.measured()
        best = measured.iloc[0] if len(measured) else None
        best_ap, best_flops = ("-", "-") if best is None else (f"{best[run.metric]:.2f}", f"{best['flops'] / GIGA:.2f}")
        median_ap = f"{measured[run.metric].median():.2f}" if len(measured) else "-"
        winner = run.winner()
        predicted = f"{winner['predicted']:.2f}" if winner else "-"
        cpu_minutes = (run.trials["wall_time_s"] * run.config.get("search", {}).get("cpus_per_trial", 1)).sum() / 60
        lines.append(f"| {run.label} | {len(measured)} of {len(run.trials)} | {best_ap} | {best_flops} | {median_ap} | {predicted} | "
                     f"{cpu_minutes:.1f} | {len(run.pareto('flops', run.metric))} |")
    lines += ["", figure_link(args.output, best_so_far, "best AP so far, NARS vs random"), "",
              figure_link(args.output, fronts, "AP vs FLOPs Pareto fronts, NARS vs random"), "",
              f"Full report (predictor quality, importance, curves per run): `{shown_path(report)}`.", ""]
    return "\n".join(lines)


def shown_path(path: Path) -> Path:
    return path.relative_to(REPO) if path.is_relative_to(REPO) else path


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("experiments/raccoon_search.yaml"), help="experiment YAML (from the repo root)")
    parser.add_argument("--trials", type=int, default=8, help="trials per searcher (the same budget for both)")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="overrides for both searches, e.g. search.proxy_epochs=1")
    parser.add_argument("--runs", type=Path, default=REPO / "runs" / "detection_search", help="one folder per searcher, and report/")
    parser.add_argument("--output", type=Path, default=BENCHMARKS_MD, help="the Markdown file whose section is written")
    return parser.parse_args(argv)


def main(argv: Sequence[str]) -> None:
    args = parse_args(argv)
    folders = [args.runs.resolve() / searcher for searcher in SEARCHERS]
    for searcher, folder in zip(SEARCHERS, folders, strict=True):
        run_search(args.config, folder, args.set, ["--searcher", searcher, "--num-samples", str(args.trials)])
    runs = [load_run(folder) for folder in folders]
    report = write_report(runs, args.runs.resolve() / "report")
    text = section(runs, args, argv, report)
    write_section(args.output, SECTION, text)
    print(text)


if __name__ == "__main__":
    main(sys.argv[1:])
