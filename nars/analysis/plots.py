"""The report's figures, one function each: a `Run`'s tables in, a PNG out.

Figures are made with `matplotlib.figure.Figure`, not pyplot, so drawing them touches no global
backend state (a notebook's inline backend stays as it is) and leaves no open figure behind.
Accuracy is COCO AP in percent, FLOPs in GFLOPs; every figure has a title, labelled axes with
units and a legend. Each function returns the PNG's path.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import LogLocator, MaxNLocator, NullFormatter

from core.atomic import atomic_open
from nars.analysis.importance import is_numeric
from nars.analysis.run import COST_AXES, Run
from nars.records.tables import PARAM_PREFIX
from nars.records.verdict import no_signal

MAX_LEGEND_ROUNDS = 8  # more rounds get a colour bar instead of legend entries
LOG_RANGE = 50  # parameter values spanning more than this factor are shown on a log axis


def accuracy_label(metric: str) -> str:
    return f"{metric.upper()} (%)"


def save(fig: Figure, path: Path) -> Path:
    """Write the figure atomically."""
    fig.tight_layout()
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=110)
    return path


class RoundColours:
    """One colour per round: distinct colours and legend entries for a few rounds, a viridis colour bar for many."""

    def __init__(self, rounds: pd.Series) -> None:
        self.rounds = sorted(int(r) for r in rounds.dropna().unique())
        self.legend = len(self.rounds) <= MAX_LEGEND_ROUNDS
        self.norm = Normalize(min(self.rounds, default=0), max(self.rounds, default=1))
        self.cmap = colormaps.get_cmap("tab10" if self.legend else "viridis")

    def colour(self, round_: int) -> tuple[float, ...]:
        return self.cmap(self.rounds.index(round_)) if self.legend else self.cmap(self.norm(round_))

    def label(self, text: str) -> str | None:
        return text if self.legend else None

    def finish(self, fig: Figure, ax: Axes) -> None:
        """The colour bar, when rounds are too many for the legend."""
        if self.rounds and not self.legend:
            fig.colorbar(ScalarMappable(norm=self.norm, cmap=self.cmap), ax=ax, label="round")


def pareto(run: Run, path: Path) -> Path:
    """Accuracy vs the run's cost axis (FLOPs, or the search's cost objective) of every measured trial,
    the Pareto front, the best trial and the winner."""
    metric, x = run.metric, run.cost_axis
    unit, name, _, axis_label = COST_AXES[x]
    data = run.measured()
    data = data[data[x].notna()]
    front = run.pareto(x, metric)
    fig = Figure(figsize=(7.5, 5))
    ax = fig.subplots()
    colours = RoundColours(data["round"])
    for r in colours.rounds:
        part = data[data["round"] == r]
        ax.scatter(part[x] / unit, part[metric], color=colours.colour(r), s=36, label=colours.label(f"round {r} trials"), zorder=3)
    colours.finish(fig, ax)
    rest = data[data["round"].isna()]  # baselines have no rounds
    if len(rest):
        ax.scatter(rest[x] / unit, rest[metric], color="tab:blue", s=36, label="trials", zorder=3)
    ax.step(front[x] / unit, front[metric], where="post", color="tab:red", lw=1.5, label=f"Pareto front ({len(front)} trials)", zorder=2)
    if len(data):
        top = data.iloc[0]
        ax.scatter([top[x] / unit], [top[metric]], s=160, facecolors="none", edgecolors="black", lw=1.5, zorder=4,
                   label=f"best trial {top['trial_id']} ({top[metric]:.2f})")
    winner = run.winner()
    if winner is not None:
        winner_marks(ax, winner, x, unit, run)
    skipped = len(run.trials) - len(data)
    ax.set_xlabel(axis_label)
    ax.set_ylabel(accuracy_label(metric))
    ax.set_title(f"{run.label}: {metric.upper()} vs {name}, {len(data)} measured trials"
                 + (f" ({skipped} not measured)" if skipped else "")
                 + (f"\nno signal: every trial measured the same {metric.upper()}" if no_signal(run.trials, metric) else ""))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return save(fig, path)


def winner_marks(ax: Axes, winner: dict[str, Any], x: str, unit: float, run: Run) -> None:
    """The winner where it was measured (a filled star) or only predicted (a hollow one, said so), and its accuracy
    after the final training (a diamond: a longer budget than the trials'); a line where its cost is unknown."""
    measured = winner["measured"] is not None
    value = winner["measured"] if measured else winner["predicted"]
    marks = [(value, f"winner best_recipe.yaml: measured {value:.2f} (proxy budget)" if measured
              else f"winner best_recipe.yaml: predicted {value:.2f}, not measured",
              {"marker": "*", "s": 260, "facecolors": "gold" if measured else "none", "edgecolors": "black" if measured else "goldenrod",
               "linestyle": "-" if measured else "--"})]
    if (trained := run.trained) is not None:
        budget = f", {trained.epochs} epochs" if trained.epochs else ""
        marks.append((trained.value, f"winner after its final training: {trained.value:.2f} ({trained.split} split{budget})",
                      {"marker": "D", "s": 90, "facecolors": "black", "edgecolors": "black", "linestyle": "-"}))
    for value, label, style in marks:
        if winner[x] is not None:
            ax.scatter([winner[x] / unit], [value], zorder=5, lw=1.5, label=label, **style)
        else:
            ax.axhline(value, color=style["edgecolors"], ls="--", lw=1.2, label=f"{label} ({x} not recorded)")


def inheritance(run: Run, path: Path) -> Path:
    """Accuracy vs the share of parameters inherited from the checkpoint, one colour per `init`."""
    data = run.measured()
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    for init, colour in (("inherited", "tab:green"), ("partial", "tab:orange"), ("scratch", "tab:grey")):
        part = data[data["init"] == init]
        if len(part):
            ax.scatter(100 * part["inherited_share"], part[run.metric], color=colour, s=36, label=f"{init} ({len(part)})", zorder=3)
    ax.set_xlabel("parameters inherited from the checkpoint (%)")
    ax.set_ylabel(accuracy_label(run.metric))
    ax.set_title(f"{run.label}: {run.metric.upper()} vs weights inherited")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return save(fig, path)


def best_so_far(runs: Sequence[Run], path: Path) -> Path:
    """Best accuracy so far vs trials finished, one line per run (e.g. NARS vs random vs Optuna)."""
    fig = Figure(figsize=(7.5, 4.8))
    ax = fig.subplots()
    metrics = sorted({run.metric for run in runs})
    for i, run in enumerate(runs):
        table = run.best_so_far()
        colour = colormaps.get_cmap("tab10")(i % 10)
        best = table["best"].max()
        label = f"{run.label}: best {best:.2f}" if np.isfinite(best) else f"{run.label}: no measured trial yet"
        ax.step(table["trial"], table["best"], where="post", color=colour, lw=2, label=label)
        ax.scatter(table["trial"], table["value"], color=colour, s=14, alpha=0.45)
    ax.set_xlabel("trials finished (count)")
    ax.set_ylabel(f"best {' / '.join(m.upper() for m in metrics)} so far (%)")
    ax.set_title("Best accuracy so far (line) and each trial's accuracy (dots)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return save(fig, path)


def predicted_vs_measured(run: Run, quality: pd.DataFrame, path: Path) -> Path:
    """Each round's predictions (made before its trials trained) against the measured accuracy."""
    metric = run.metric
    data = run.measured()
    data = data[data["predicted"].notna()]
    fig = Figure(figsize=(6.5, 5.5))
    ax = fig.subplots()
    colours = RoundColours(data["round"])
    by_round = quality.set_index("round")
    for r in colours.rounds:
        part = data[data["round"] == r]
        tau = by_round.loc[r, "kendall_tau"] if r in by_round.index else np.nan
        text = f"tau={tau:.2f}" if np.isfinite(tau) else "tau n/a"
        ax.errorbar(part["predicted"], part[metric], xerr=part["predicted_std"].fillna(0), fmt="o", color=colours.colour(r), capsize=3,
                    label=colours.label(f"round {r}: n={len(part)}, {text}"))
    colours.finish(fig, ax)
    values = pd.concat([data["predicted"], data[metric]])
    low, high = float(values.min()), float(values.max())
    pad = 0.05 * (high - low or 1.0)
    ax.plot([low - pad, high + pad], [low - pad, high + pad], ls="--", color="grey", lw=1, label="predicted = measured")
    ax.set_xlabel(f"predicted {accuracy_label(metric)} (before training; bars: ensemble std)")
    ax.set_ylabel(f"measured {accuracy_label(metric)}")
    ax.set_title(f"{run.label}: predictor vs measurement per round")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return save(fig, path)


def importance(run: Run, table: pd.DataFrame, path: Path, top: int = 15) -> Path:
    """Horizontal bars of the most important parameters (mean and std over shuffles)."""
    shown = table.head(top).iloc[::-1]
    fig = Figure(figsize=(7.5, 0.32 * len(shown) + 1.6))
    ax = fig.subplots()
    ax.barh(shown["parameter"].str.removeprefix(PARAM_PREFIX), shown["importance"], xerr=shown["importance_std"], color="tab:blue",
            capsize=2, label="mean over shuffles (bar: std)")
    ax.set_xlabel(f"increase of the forest's mean absolute error in {run.metric.upper()} when shuffled (AP points)")
    ax.set_title(f"{run.label}: parameter importance (permutation, random forest, {len(run.measured())} trials)", fontsize=10)
    ax.grid(alpha=0.3, axis="x")
    ax.legend(fontsize=8, loc="lower right")
    return save(fig, path)


def curves(run: Run, path: Path, highlight: int = 5) -> Path:
    """Accuracy and training loss per epoch of every trial; the best few in colour."""
    metric = run.metric
    best = list(run.best(highlight)["trial_id"])
    groups = dict(tuple(run.curves.sort_values("epoch").groupby("trial_id", sort=False)))
    fig = Figure(figsize=(11, 4.5))
    axes = fig.subplots(1, 2)
    others = [t for t in groups if t not in best]
    for trial_id in others + [t for t in best if t in groups]:  # highlighted trials last: drawn on top, legend in rank order
        part = groups[trial_id]
        if trial_id in best:
            rank = best.index(trial_id)
            style = {"color": colormaps.get_cmap("tab10")(rank % 10), "lw": 2, "label": f"#{rank + 1} {trial_id}"}
        else:
            style = {"color": "grey", "lw": 0.8, "alpha": 0.5}
        for ax, column in zip(axes, (metric, "loss")):
            ax.plot(part["epoch"], part[column], marker="o", ms=3, **style)
    if others:
        axes[0].plot([], [], color="grey", lw=0.8, label="other trials")
    axes[0].set_ylabel(accuracy_label(metric))
    axes[0].set_title(f"Validation {metric.upper()} per epoch")
    axes[1].set_ylabel("training loss (sum of detector losses)")
    axes[1].set_title("Training loss per epoch")
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch (proxy budget)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, loc="best")
    fig.suptitle(f"{run.label}: learning curves of {run.curves['trial_id'].nunique()} trials")
    return save(fig, path)


def top_k_values(run: Run, parameters: Sequence[str], path: Path, k: int = 5) -> Path:
    """Where the top-k trials' values sit among all measured trials, for the given parameters."""
    data, top = run.measured(), run.best(k)
    columns = 3
    rows = max(1, -(-len(parameters) // columns))
    fig = Figure(figsize=(4 * columns, 2.6 * rows))
    axes = fig.subplots(rows, columns, squeeze=False)
    for ax, name in zip(axes.flat, parameters):
        label = name.removeprefix(PARAM_PREFIX)
        if is_numeric(data[name]):
            values = data[name].astype("float64")
            jitter = np.random.default_rng(0).uniform(-0.12, 0.12, size=len(data))
            ax.scatter(values, jitter, color="grey", s=18, alpha=0.6, label="all measured")
            ax.scatter(top[name].astype("float64"), 1 + jitter[: len(top)], color="tab:red", s=30, label=f"top {len(top)}")
            ax.set_yticks([0, 1], ["all", f"top {len(top)}"])
            ax.set_ylim(-0.5, 1.5)
            present = values.dropna()
            if len(present) and present.min() > 0 and present.max() / present.min() > LOG_RANGE:  # weight decays, ...
                ax.set_xscale("log")
                ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
                ax.xaxis.set_minor_formatter(NullFormatter())
            elif len(present) and (present == present.round()).all():
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlabel(f"{label} (value)")
        else:
            shares = pd.DataFrame({"all measured": data[name].fillna("(n/a)").astype(str).value_counts(normalize=True),
                                   f"top {len(top)}": top[name].fillna("(n/a)").astype(str).value_counts(normalize=True)}).fillna(0)
            shares.plot.bar(ax=ax, color=["grey", "tab:red"], rot=0, legend=False)
            ax.set_ylabel("share of trials")
            ax.set_xlabel(f"{label} (choice)")
        ax.set_title(label, fontsize=9)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(parameters):]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper right", fontsize=8)
    fig.suptitle(f"{run.label}: values of the top {len(top)} trials vs all {len(data)} measured (most important parameters)")
    return save(fig, path)

