"""Detection search: NARS vs other searchers on one detection experiment, several seeds, the same trial budget.

    OMP_WAIT_POLICY=PASSIVE python -m benchmarks.detection_search [--config experiments/raccoon_search.yaml]
        [--trials 8] [--searchers nars random optuna-tpe] [--seeds 0 1 2] [--set search.initial_points=4]
        [--train-default experiments/raccoon_train.yaml --epochs 30 --train-seeds 0]

For each seed, then each searcher (so that an unfinished benchmark still compares every searcher on the
same seeds), runs `python -m nars.search --searcher S --num-samples N --set search.seed=SEED` into
`--runs DIR/S/seedSEED` (default DIR: `runs/detection_search/<experiment>`). Every searcher starts with the
experiment's `search.initial_points` (NARS's Sobol round; TPE's, GP's and SMAC's start, local search's random points). Finished searches are reused, so an interrupted benchmark resumes at the next
unfinished one and a rerun only redraws. With the raccoon experiment a trial is 4 proxy epochs from scratch
at 160-224 px, about 5 CPU minutes: one 8-trial search is about 40 CPU minutes.

Then `nars.analysis` compares them: the best-AP-so-far curves (median over seeds, min-max band, per
searcher), the AP vs FLOPs fronts of every run, and a table (median and range over seeds of the best AP,
the best after half the trials, CPU minutes). With `--train-default RECIPE`, the NARS winner of the first
seed (its `best_recipe.yaml`) and RECIPE are both trained for `--epochs` on the experiment's data with
`detector.train` and evaluated with `detector.evaluate`: does the search give a better detector than the defaults?
With `--train-seeds 0 1`, each recipe is trained once per training seed. A table of all trainings, with the mean
val AP over the late epochs all evaluated, and their val AP per epoch as a PNG.
Writes the section "Detection search: <experiment>" of BENCHMARKS.md (one per experiment, e.g. `raccoon_search`)
and `benchmarks/figures/detection_search_<experiment>_*.png`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from benchmarks.common import BENCHMARKS_MD, REPO, SHARED_NOTE, figure_link, figure_path, finish_figure, header, publish, run_search
from core.jsonl import read_jsonl
from core.yaml_io import read_yaml
from nars.analysis import Run, load_run, write_report
from nars.searchers.pareto import pareto_mask

SECTION = "Detection search"
GIGA = 1e9


def run_folder(runs: Path, searcher: str, seed: int) -> Path:
    return runs / searcher / f"seed{seed}"


def best_so_far_table(runs: dict[str, list[Run]], trials: int) -> pd.DataFrame:
    """Best AP after each trial: one column per run, one row per trial (1..trials), grouped by searcher."""
    columns = {}
    for searcher, seeded in runs.items():
        for i, run in enumerate(seeded):
            curve = run.best_so_far().set_index("trial")["best"].reindex(range(1, trials + 1))
            columns[(searcher, i)] = curve.ffill()
    return pd.DataFrame(columns)


def plot_best_so_far(curves: pd.DataFrame, path: Path) -> Path:
    """Median over seeds of the best AP so far, with the min-max band, per searcher."""
    fig = Figure(figsize=(7.5, 4.8))
    ax = fig.subplots()
    last = curves.index[-1]
    curves = pd.concat([curves, curves.loc[[last]].set_axis([last + 0.5])])  # so that the last trial's step has a width
    for i, searcher in enumerate(dict.fromkeys(curves.columns.get_level_values(0))):
        part = curves[searcher]
        colour = colormaps.get_cmap("tab10")(i)
        ax.fill_between(part.index, part.min(axis=1), part.max(axis=1), step="post", color=colour, alpha=0.15)
        ax.step(part.index, part.median(axis=1), where="post", color=colour, lw=2,
                label=f"{searcher}: median of {part.shape[1]} seeds (band: min-max)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return finish_figure(fig, ax, path, xlabel="trials finished", ylabel="best val AP so far (%)",
                         title="Best AP so far per searcher over seeds, the same trial budget")


def plot_fronts(runs: dict[str, list[Run]], path: Path) -> Path:
    """Every measured trial of every run and the AP vs FLOPs front of each searcher's trials over all its seeds."""
    fig = Figure(figsize=(7.5, 5))
    ax = fig.subplots()
    for i, (searcher, seeded) in enumerate(runs.items()):
        colour = colormaps.get_cmap("tab10")(i)
        metric = seeded[0].metric
        data = pd.concat([run.measured() for run in seeded])
        data = data[data["flops"].notna()]
        front = data[pareto_mask(data[["flops", metric]].to_numpy(dtype=np.float64), [False, True])].sort_values("flops")
        ax.scatter(data["flops"] / GIGA, data[metric], color=colour, s=18, alpha=0.4)
        ax.step(front["flops"] / GIGA, front[metric], where="post", color=colour, lw=2, marker="o", ms=6,
                label=f"{searcher}: front of {len(front)} ({len(data)} trials, {len(seeded)} seeds)")
    return finish_figure(fig, ax, path, xlabel="FLOPs (GFLOPs, one image at the search resolution)",
                         ylabel="val AP (%) after the proxy budget",
                         title="Accuracy vs FLOPs: every trial (dots) and each searcher's front over its seeds")


def summary_table(runs: dict[str, list[Run]], curves: pd.DataFrame, trials: int) -> list[str]:
    half = max(1, trials // 2)
    lines = [(f"| searcher | seeds | trials measured | best val AP: median (min-max) | best after {half} trials: median | "
              "median AP of all trials | trial CPU minutes per search |"), "|---|---|---|---|---|---|---|"]
    for searcher, seeded in runs.items():
        best = curves[searcher].iloc[-1]
        measured = sum(len(run.measured()) for run in seeded)
        all_ap = pd.concat([run.measured()["ap"] for run in seeded])
        cpu = np.median([(run.trials["wall_time_s"] * run.config.get("search", {}).get("cpus_per_trial", 1)).sum() / 60 for run in seeded])
        lines.append(f"| {searcher} | {len(seeded)} | {measured} of {sum(len(run.trials) for run in seeded)} | "
                     f"{best.median():.2f} ({best.min():.2f}-{best.max():.2f}) | {curves[searcher].loc[half].median():.2f} | "
                     f"{all_ap.median():.2f} | {cpu:.1f} |")
    return lines


def train_and_evaluate(recipe: Path, data: Path, output: Path, epochs: int, seed: int) -> dict[str, float]:
    """`detector.train` (resumed when a previous run was interrupted) then `detector.evaluate`; the val AP figures."""
    result = output / "eval_val.json"
    if not result.is_file():
        command = [sys.executable, "-m", "detector.train", "--config", str(recipe), "--data", str(data), "--output", str(output),
                   "--epochs", str(epochs), "--set", f"train.seed={seed}", "--no-progress"]
        if (output / "last.pt").is_file():
            command.append("--resume")
        for step in (command, [sys.executable, "-m", "detector.evaluate", "--checkpoint", str(output / "model_final.pt"),
                               "--data", str(data), "--output", str(result)]):
            print("+", " ".join(step), flush=True)
            if subprocess.run(step, cwd=REPO, check=False).returncode != 0:
                sys.exit(f"error: {' '.join(step[1:4])} failed (its message is above)")
    return json.loads(result.read_text())


def training_folder(runs: Path, recipe: str, seed: int) -> Path:
    """DIR/trained/<recipe> for training seed 0 (the folder name of the single-seed benchmark), <recipe>_seed<N> after."""
    return runs / "trained" / (recipe if seed == 0 else f"{recipe}_seed{seed}")


def val_ap_by_epoch(folder: Path) -> pd.Series:
    """The validation AP `detector.train` logged per evaluated epoch (`metrics.jsonl`), indexed by epoch."""
    return pd.Series({r["epoch"]: r["ap"] for r in read_jsonl(folder / "metrics.jsonl") if isinstance(r.get("ap"), (int, float))},
                     dtype=np.float64)


class Training(NamedTuple):
    """One `--train-default` training: its recipe's table name and short plot label, training seed, final AP
    figures (`detector.evaluate`) and val AP per evaluated epoch (`metrics.jsonl`)."""

    recipe: str
    label: str
    seed: int
    figures: dict[str, float]
    history: pd.Series


def late_common_epochs(trainings: Sequence[Training], epochs: int) -> list[int]:
    """Epochs of the second half at which every training was evaluated.

    One recipe's val AP swings by several AP from one evaluation to the next on a small validation set, so a
    mean over the same late epochs compares two trainings more fairly than their last evaluations alone.
    """
    common = set.intersection(*(set(int(e) for e in t.history.index) for t in trainings))
    return sorted(e for e in common if e > epochs // 2)


def plot_val_ap(trainings: Sequence[Training], path: Path) -> Path:
    """Validation AP per evaluated epoch of each training: a colour per recipe, a line style per training seed."""
    fig = Figure(figsize=(7.5, 4.5))
    ax = fig.subplots()
    colours = {label: colormaps.get_cmap("tab10")(i) for i, label in enumerate(dict.fromkeys(t.label for t in trainings))}
    styles = {seed: style for seed, style in zip(sorted({t.seed for t in trainings}), ("-", "--", ":", "-."))}
    for t in trainings:
        ax.plot(t.history.index, t.history.to_numpy(), marker="o", ms=4, color=colours[t.label], ls=styles.get(t.seed, "-"),
                label=f"{t.label}, training seed {t.seed}")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(bottom=0)
    return finish_figure(fig, ax, path, xlabel="epoch", ylabel="val AP (%)",
                         title="Winner vs default recipe: validation AP per evaluated epoch")


def training_rows(trainings: Sequence[Training], late: list[int]) -> list[str]:
    """Table rows: each training (recipe, training seed, its final AP figures, its mean val AP at `late` epochs),
    and with several seeds a mean row after each recipe's."""
    rows = pd.DataFrame([{"recipe": t.recipe, "seed": t.seed, "ap": t.figures["ap"], "ap50": t.figures["ap50"],
                          "ap75": t.figures["ap75"], "late": t.history.loc[late].mean() if late else np.nan}
                         for t in trainings])
    if rows["seed"].nunique() > 1:
        order = {name: i for i, name in enumerate(dict.fromkeys(rows["recipe"]))}
        means = rows.groupby("recipe", sort=False).mean(numeric_only=True).reset_index().assign(seed="mean")
        rows = pd.concat([rows, means], ignore_index=True).sort_values("recipe", key=lambda c: c.map(order), kind="stable")
    return [f"| {row.recipe} | {row.seed} | {row.ap:.2f} | {row.ap50:.2f} | {row.ap75:.2f} | "
            f"{'-' if np.isnan(row.late) else f'{row.late:.2f}'} |" for row in rows.itertuples()]


def winner_vs_default(args: argparse.Namespace, runs: dict[str, list[Run]]) -> list[str]:
    """Train the first NARS seed's winner and the default recipe for the same epochs and training seeds; a table and a figure."""
    nars = runs.get("nars")
    if not nars:
        return ["`--train-default` needs `nars` among the searchers.", ""]
    data_dir = read_yaml(args.config).get("data", {}).get("dir")
    if not data_dir:
        sys.exit(f"error: --train-default needs an experiment whose data is a folder (data.dir); {args.config} has none")
    recipes = [("winner", f"NARS winner (`best_recipe.yaml` of seed {args.seeds[0]})", "NARS winner", nars[0].path / "best_recipe.yaml"),
               ("default", f"default (`{args.train_default}`)", "default", args.train_default)]  # (folder, table name, plot label, YAML)
    trainings: list[Training] = []
    for folder, name, label, recipe in recipes:
        for seed in args.train_seeds:
            output = training_folder(args.runs.resolve(), folder, seed)
            figures = train_and_evaluate(recipe, (REPO / data_dir).resolve(), output, args.epochs, seed)
            trainings.append(Training(name, label, seed, figures, val_ap_by_epoch(output)))
    late = late_common_epochs(trainings, args.epochs)
    lines = [f"Winner vs default recipe, both trained {args.epochs} epochs on `{data_dir}` from scratch "
             f"(final model, and the mean val AP at the evaluated epochs all trainings share in the second half):", "",
             f"| recipe | training seed | val AP | AP50 | AP75 | mean val AP at epochs {', '.join(map(str, late)) or '(none shared)'} |",
             "|---|---|---|---|---|---|"]
    lines += training_rows(trainings, late)
    stem = f"detection_search_{args.config.stem}_winner_vs_default.png"
    return [*lines, "", figure_link(args.output, plot_val_ap(trainings, figure_path(args.output, stem)),
                                    "validation AP per epoch, NARS winner vs default recipe"), ""]


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("experiments/raccoon_search.yaml"), help="experiment YAML (from the repo root)")
    parser.add_argument("--trials", type=int, default=8, help="trials per search (the same budget for every searcher)")
    parser.add_argument("--searchers", nargs="+", default=["nars", "random", "optuna-tpe"], help="nars.search --searcher values")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="search.seed of each search")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="overrides for every search, e.g. search.proxy_epochs=1")
    parser.add_argument("--train-default", type=Path, help="also train the NARS winner and this recipe for --epochs and compare")
    parser.add_argument("--epochs", type=int, default=30, help="epochs of both trainings of --train-default")
    parser.add_argument("--train-seeds", nargs="+", type=int, default=[0], help="train.seed of each --train-default training of both recipes")
    parser.add_argument("--runs", type=Path, help="DIR/<searcher>/seed<N>, report/, trained/ (default: runs/detection_search/<experiment>)")
    parser.add_argument("--output", type=Path, default=BENCHMARKS_MD, help="the Markdown file whose section is written")
    args = parser.parse_args(argv)
    if args.runs is None:  # per experiment: finished searches are reused, so two experiments must never share a folder
        args.runs = REPO / "runs" / "detection_search" / args.config.stem
    return args


def main(argv: Sequence[str]) -> None:
    args = parse_args(argv)
    for seed in args.seeds:
        for searcher in args.searchers:
            run_search(args.config, run_folder(args.runs.resolve(), searcher, seed), [*args.set, f"search.seed={seed}"],
                       ["--searcher", searcher, "--num-samples", str(args.trials)])
    runs = {s: [load_run(run_folder(args.runs.resolve(), s, seed)) for seed in args.seeds] for s in args.searchers}
    for searcher, seeded in runs.items():
        for seed, run in zip(args.seeds, seeded, strict=True):
            run.label = f"{searcher} seed {seed}"
    report = write_report([run for seeded in runs.values() for run in seeded], args.runs / "report")
    shown = report.relative_to(REPO) if report.is_relative_to(REPO) else report  # runs/ may link elsewhere: not resolved
    curves = best_so_far_table(runs, args.trials)
    title, stem = f"{SECTION}: {args.config.stem}", f"detection_search_{args.config.stem}"
    lines = header(title, "detection_search.py", argv,
                   f"Experiment `{args.config}`: {args.trials} trials per search, seeds {', '.join(map(str, args.seeds))}; "
                   f"overrides: {' '.join(args.set) or 'none'}", SHARED_NOTE.split(":")[0] + ".")
    lines += summary_table(runs, curves, args.trials)
    lines += ["", figure_link(args.output, plot_best_so_far(curves, figure_path(args.output, f"{stem}_best_so_far.png")),
                              "best AP so far per searcher, median and range over seeds"), "",
              figure_link(args.output, plot_fronts(runs, figure_path(args.output, f"{stem}_pareto.png")),
                          "AP vs FLOPs fronts per searcher"), "",
              f"Full report (predictor quality, importance, curves per run): `{shown}`.", ""]
    if args.train_default:
        lines += winner_vs_default(args, runs)
    publish(args.output, title, lines)


if __name__ == "__main__":
    main(sys.argv[1:])
