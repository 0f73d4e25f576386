"""Predictor quality on detection trials: how well each predictor ranks the trials not yet measured after N measured ones.

    OMP_WAIT_POLICY=PASSIVE python -m benchmarks.predictor_trials --runs runs/detection_search/raccoon_search/*/seed* [--n 4 8 12 16 24]
        [--repeats 50]

The tables of `predictor_quality.py` have thousands of configurations; a detection search has tens of trials, which
is where a predictor has to work. This pools the trials of several run folders of one experiment (the same search
space: e.g. every searcher and seed of `detection_search.py`) that trained the whole proxy budget, and per repeat
orders them at random: each predictor is fitted on the first N and scored by Kendall tau between its predictions
and the measured AP of all the others, as a search's next round would need. Predictors: the NARS MLP pretrained on
the free statistics `nars.search` uses (log FLOPs and log params of unlabelled points of the space, always on here),
the same MLP without pretraining, random forest and GP (`nars.predictor` defaults), and log FLOPs alone (larger
first, no labels). Writes the section "Predictor quality on detection trials: <label>" of BENCHMARKS.md and its figure.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from benchmarks.common import BENCHMARKS_MD, figure_link, figure_path, finish_figure, header, publish
from nars.config.experiment import load_experiment
from nars.predictor import make_predictor
from nars.predictor.metrics import ranking_metrics
from nars.predictor.pretraining import SAMPLE_SEED_OFFSET
from nars.records import run_folder
from nars.records.tables import LABELLED, points_of
from nars.trial.costs import Costs
from nars.trial.proxy import proxy_space_spec
from search_spaces import load_space
from search_spaces.point import point_key

if TYPE_CHECKING:
    from search_spaces.fbnetv3.space import FBNetV3Space

SECTION = "Predictor quality on detection trials"
PREDICTORS = ("mlp + pretraining", "mlp", "random_forest", "gp")
ALONE = "log FLOPs alone"


def pooled_trials(runs: list[Path]) -> tuple[Any, Costs, list[dict[str, Any]], np.ndarray, str]:
    """The space and costs of the first run's experiment, and the measured points of every run (one per point).

    Runs of another space would encode differently: every run's experiment must give the first one's space.
    """
    experiments = [load_experiment(run / run_folder.SEARCH_CONFIG) for run in runs]
    specs = [proxy_space_spec(e.space) for e in experiments]
    for run, spec in zip(runs[1:], specs[1:], strict=True):
        if spec != specs[0]:
            raise SystemExit(f"error: {run} searched another space than {runs[0]}; pool runs of one experiment")
    metric = experiments[0].search.metric
    space = load_space(specs[0])
    costs = Costs(space)  # FLOPs and params only: no latency, no cache file in the runs
    points, values, seen = [], [], set()
    for run in runs:
        trials = pd.read_csv(run / run_folder.TRIALS_CSV)
        good = trials[trials["status"].isin(LABELLED) & trials[metric].notna()]
        for point, value in zip(points_of(good), good[metric], strict=True):
            if point_key(point) not in seen:  # the same point measured twice: keep the first
                seen.add(point_key(point))
                points.append(point)
                values.append(float(value))
    return space, costs, points, np.array(values), metric


def _tau(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Kendall tau; a constant prediction (NaN: it ranks nothing) counts as 0, so that medians over orders stay defined."""
    return float(np.nan_to_num(ranking_metrics(y_true, y_pred)["kendall_tau"], nan=0.0))


Scores = dict[str, dict[int, list[float]]]  # predictor -> N -> one value per random order


def evaluate(space: FBNetV3Space, costs: Costs, points: list[dict[str, Any]], y: np.ndarray, ns: list[int], repeats: int,
             pretrain_points: int) -> tuple[Scores, Scores]:
    """Kendall tau on the unmeasured rest, per predictor, N and repeat (nested: the first N of one random order); and
    the share of the rest within the predictor's mean +- 1 std, which says whether NARS's `mean + 2 std` explores."""
    X = space.encode(points)
    log_flops = costs.free_stats(points)[:, 0]
    unlabelled = space.sample(pretrain_points, seed=SAMPLE_SEED_OFFSET, method="random")  # the sample nars.search draws at seed 0
    X_free, free = space.encode(unlabelled), costs.free_stats(unlabelled)
    scores: Scores = {name: {n: [] for n in ns} for name in (*PREDICTORS, ALONE)}
    coverage: Scores = {name: {n: [] for n in ns} for name in PREDICTORS}
    for repeat in tqdm(range(repeats), desc="random orders", unit="order"):  # minutes: 4 predictors x every N per order
        order = np.random.default_rng(repeat).permutation(len(points))
        pretrained = make_predictor("mlp", seed=repeat).pretrain(X_free, free)
        for n in ns:
            train, rest = order[:n], order[n:]
            for name in PREDICTORS:
                predictor = pretrained if name == "mlp + pretraining" else make_predictor(name.split(" ")[0], seed=repeat)
                predictor.fit(X[train], y[train])
                mean, std = predictor.predict(X[rest], return_std=True)
                scores[name][n].append(_tau(y[rest], mean))
                coverage[name][n].append(float(np.mean(np.abs(y[rest] - mean) <= std)))
            scores[ALONE][n].append(_tau(y[rest], log_flops[rest]))
    return scores, coverage


def plot(scores: Scores, ns: list[int], path: Path, trials: int) -> Path:
    """Median tau vs N per predictor, shaded between the 25th and 75th percentile over repeats."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for name, per_n in scores.items():
        values = [np.percentile(per_n[n], [25, 50, 75]) for n in ns]
        style = {"linestyle": ":", "color": "black"} if name == ALONE else {"marker": "o"}
        ax.plot(ns, [v[1] for v in values], label=name, **style)
        if name != ALONE:
            ax.fill_between(ns, [v[0] for v in values], [v[2] for v in values], alpha=0.12)
    ax.axhline(0.0, color="grey", linewidth=0.8)
    ax.set_xticks(ns)
    return finish_figure(fig, ax, path, xlabel="measured trials N (the predictor's training set)",
                         ylabel="Kendall tau on the other trials",
                         title=f"Ranking unmeasured trials ({trials} trials; median, IQR shaded)")


def main(argv: list[str] | None = None) -> str:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, nargs="+", required=True, help="run folders of `nars.search` of one experiment")
    parser.add_argument("--n", type=int, nargs="+", default=[4, 8, 12, 16, 24], help="measured trials the predictors are fitted on")
    parser.add_argument("--repeats", type=int, default=50, help="random orders of the pooled trials")
    parser.add_argument("--pretrain-points", type=int, default=512, help="unlabelled points for pretraining (as search.predictor)")
    parser.add_argument("--label", help="names the section and figure (default: the folder holding all the runs, e.g. raccoon_search)")
    parser.add_argument("--output", type=Path, default=BENCHMARKS_MD)
    args = parser.parse_args(argv)
    label = args.label or Path(os.path.commonpath(args.runs)).name
    space, costs, points, y, metric = pooled_trials([run.resolve() for run in args.runs])
    ns = [n for n in sorted(args.n) if 2 <= n <= len(points) - 3]  # tau needs a few points on each side
    if not ns:
        raise SystemExit(f"error: {len(points)} measured trials leave no N of {args.n} with at least 3 trials to rank")
    scores, coverage = evaluate(space, costs, points, y, ns, args.repeats, args.pretrain_points)
    figure = plot(scores, ns, figure_path(args.output, f"predictor_trials_{label}.png"), len(points))
    title = f"{SECTION}: {label}"
    lines = header(
        title, "predictor_trials.py", argv,
        f"{len(points)} measured trials (whole proxy budget, distinct points) pooled from {len(args.runs)} run folder(s): "
        + ", ".join(f"`{run}`" for run in args.runs),
        f"{args.repeats} random orders; per order and N the predictors are fitted on the first N trials and scored on all the others; "
        f"pretraining on log FLOPs and log params of {args.pretrain_points} unlabelled points of the space; target: val {metric}",
    )
    lines += ["Kendall tau on the trials not in the training set: median over orders (25th to 75th percentile in brackets).", ""]
    lines += table(scores, ns, "{:.2f}")
    best = {n: max(PREDICTORS, key=lambda p: np.median(scores[p][n])) for n in ns}
    lines += ["", "Best predictor per N: " + ", ".join(f"{n}: {p}" for n, p in best.items()) + ".", "",
              figure_link(args.output, figure, "Kendall tau after N detection trials"), "",
              ("Is the predicted std an error bar? Share of the trials not in the training set whose measured value lies within "
              "the prediction +- 1 std (68% for a calibrated Gaussian; the MLP's std is its ensemble's spread): median over "
              "orders (25th to 75th percentile)."), ""]
    lines += table(coverage, ns, "{:.0%}")
    return publish(args.output, title, lines + [""])


def table(values: Scores, ns: list[int], cell: str) -> list[str]:
    """A markdown table: one row per predictor, per N the median over orders and the 25th to 75th percentile."""
    lines = ["| predictor | " + " | ".join(f"N = {n}" for n in ns) + " |", "|---|" + "---|" * len(ns)]
    for name, per_n in values.items():
        cells = [f"{cell.format(np.median(v))} ({cell.format(np.percentile(v, 25))} to {cell.format(np.percentile(v, 75))})"
                 for v in (per_n[n] for n in ns)]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


if __name__ == "__main__":
    main()
