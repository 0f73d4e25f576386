"""Search from a checkpoint vs from scratch: the same NARS search twice, once inheriting weights, once not.

    OMP_WAIT_POLICY=PASSIVE python -m benchmarks.inherit_search --checkpoint runs/raccoon_fp32/model_final.pt \\
        [--config experiments/inherit_search.yaml] [--trials 8]

Runs `python -m nars.search` with `space.base.model.weights=<checkpoint>` (every trial's arch inherits what
it can of the checkpoint, `detector.weights.inherit`) and with `weights=null`: the same experiment, seed, trial
count and proxy budget. Then, per run, each trial's AP and the best so far in the order trials finished
(PNG), and a table: best and median AP, the first trial's AP, trials by `init`, the median share of
parameters inherited. Finished searches in `--runs` are reused, so a rerun only redraws.
Writes the section "Search from a checkpoint" of BENCHMARKS.md and `benchmarks/figures/inherit_search.png`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure

from benchmarks.common import BENCHMARKS_MD, REPO, SHARED_NOTE, figure_link, figure_path, finish_figure, header, publish, run_search
from nars.analysis import Run, load_run, write_report

SECTION = "Search from a checkpoint"
STARTS = ("inherited", "scratch")
COLOURS = {"inherited": "tab:green", "scratch": "tab:grey"}


def plot(runs: dict[str, Run], path: Path) -> Path:
    """Each trial's AP (dots) and the best so far (steps), per start, in the order trials finished."""
    fig = Figure(figsize=(7.5, 4.8))
    ax = fig.subplots()
    for start, run in runs.items():
        curve = run.best_so_far()
        ax.scatter(curve["trial"], curve["value"], color=COLOURS[start], s=28, alpha=0.7, zorder=3)
        ax.step(curve["trial"], curve["best"], where="post", color=COLOURS[start], lw=2,
                label=f"{start}: best {curve['best'].max():.2f} after {len(curve)} trials")
    return finish_figure(fig, ax, path, xlabel="trials finished",
                         ylabel=f"{next(iter(runs.values())).metric.upper()} (%) after the proxy budget",
                         title="The same search from the checkpoint (arch inherits) and from scratch")


def table(runs: dict[str, Run]) -> list[str]:
    metric = next(iter(runs.values())).metric.upper()
    lines = [(f"| start | trials measured | best {metric} | median {metric} | first trial's {metric} | trials by init | "
              "median share inherited | trial CPU minutes |"), "|---|---|---|---|---|---|---|---|"]
    for start, run in runs.items():
        measured, curve = run.measured(), run.best_so_far()
        inits = ", ".join(f"{name} {count}" for name, count in run.trials["init"].value_counts().items())
        share = run.trials["inherited_share"].median()
        cpu_minutes = run.trials["wall_time_s"].sum() * run.config.get("search", {}).get("cpus_per_trial", 1) / 60
        lines.append(f"| {start} | {len(measured)} of {len(run.trials)} | {measured[run.metric].max():.2f} | "
                     f"{measured[run.metric].median():.2f} | {curve['value'].iloc[0]:.2f} | {inits} | {share:.1%} | {cpu_minutes:.1f} |")
    return lines


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, required=True, help="the checkpoint the inheriting search starts from")
    parser.add_argument("--config", type=Path, default=Path("experiments/inherit_search.yaml"), help="experiment YAML (from the repo root)")
    parser.add_argument("--trials", type=int, default=8, help="trials per search (the same budget for both)")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="overrides for both searches")
    parser.add_argument("--runs", type=Path, default=REPO / "runs" / "inherit_search", help="one folder per start, and report/")
    parser.add_argument("--output", type=Path, default=BENCHMARKS_MD, help="the Markdown file whose section is written")
    return parser.parse_args(argv)


def main(argv: Sequence[str]) -> None:
    args = parse_args(argv)
    if not args.checkpoint.is_file():
        sys.exit(f"error: --checkpoint {args.checkpoint}: no such file")
    weights = {"inherited": str(args.checkpoint.resolve()), "scratch": "null"}
    runs: dict[str, Run] = {}
    for start in STARTS:
        folder = args.runs.resolve() / start
        run_search(args.config, folder, [*args.set, f"space.base.model.weights={weights[start]}"], ["--num-samples", str(args.trials)])
        runs[start] = load_run(folder)
        runs[start].label = start
    report = write_report(list(runs.values()), args.runs.resolve() / "report")
    figure = plot(runs, figure_path(args.output, "inherit_search.png"))
    lines = header(SECTION, "inherit_search.py", argv,
                   f"Experiment `{args.config}`, {args.trials} trials per search; checkpoint `{args.checkpoint}`; "
                   f"overrides: {' '.join(args.set) or 'none'}", SHARED_NOTE.split(":")[0] + ".")
    lines += table(runs) + ["", figure_link(args.output, figure, "best AP so far, inheriting vs from scratch"), "",
                            f"Full report (the inheritance table and AP vs share inherited, per run): `{report}`.", ""]
    publish(args.output, SECTION, lines)


if __name__ == "__main__":
    main(sys.argv[1:])
