"""The summaries of `benchmarks.search_efficiency`: each search's incumbent per evaluation, per-table summaries, tables,
figures and the goal lines of its section."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure

from benchmarks.hpo_tables import TEST_KEY, Table

METHODS = ["nars", "nars-nopretrain", "random", "optuna-tpe", "optuna-qmc", "optuna-gp", "smac", "evolution", "local"]
NARS_VARIANTS = ("nars", "nars-nopretrain")  # with / without model-size pretraining: each is checked against the goals
CHECKPOINTS = (10, 20, 50, 100, 200)
REFERENCE_EVALS = 100  # "evaluations to reach random search's best after this many"
GOAL_EVALS = (50, 100)  # the goals: NARS has the lowest median regret after these many evaluations ...
GOAL_TABLES = 3  # ... and reaches random search's best sooner than every baseline, on at least this many tables
BASELINE_PACKAGES = ("optuna", "smac", "ConfigSpace", "ray")


def incumbent_curves(raw: pd.DataFrame, table: Table) -> pd.DataFrame:
    """Per (method, seed) and evaluation: the test value and regret of the best observed point so far."""
    parts = []
    for (method, seed), run in raw.groupby(["method", "seed"]):
        run = run.sort_values("eval")
        observed = run["value"].to_numpy() * (1 if table.mode == "max" else -1)
        best_at = np.maximum.accumulate(np.where(observed == np.maximum.accumulate(observed), np.arange(len(run)), 0))
        test = run[TEST_KEY].to_numpy()[best_at]
        parts.append(pd.DataFrame({"method": method, "seed": seed, "eval": run["eval"].to_numpy(), TEST_KEY: test,
                                   "regret": table.regret(test)}))
    return pd.concat(parts, ignore_index=True)


def evals_to_reach(curves: pd.DataFrame, target: float, mode: str) -> pd.Series:
    """Per (method, seed): the first evaluation whose incumbent is at least as good as `target` (inf: never)."""
    better = curves[TEST_KEY] >= target if mode == "max" else curves[TEST_KEY] <= target
    reached = curves[better].groupby(["method", "seed"])["eval"].min()
    return reached.reindex(curves.groupby(["method", "seed"]).size().index).fillna(np.inf)


@dataclass
class Summary:
    """One table's results: incumbent curves, their medians over seeds, evaluations to random search's best."""

    curves: pd.DataFrame  # method, seed, eval, test, regret
    at: pd.DataFrame  # (method, eval) -> median test value and regret over seeds
    to_target: pd.Series  # method -> median evaluations to reach the target (inf: never)


def summarize_table(raw: pd.DataFrame, table: Table, reference: int) -> Summary:
    """The target is the median over seeds of random search's incumbent test value after `reference` evaluations."""
    curves = incumbent_curves(raw, table)
    at = curves.groupby(["method", "eval"])[[TEST_KEY, "regret"]].median()
    target = float(curves[(curves["method"] == "random") & (curves["eval"] == reference)][TEST_KEY].median())
    return Summary(curves, at, evals_to_reach(curves, target, table.mode).groupby("method").median())


def ordered(methods: Sequence[str]) -> list[str]:
    return [m for m in METHODS if m in methods] + sorted(set(methods) - set(METHODS))


def fmt(value: float) -> str:
    return f"{value:.4g}"


def fmt_evals(value: float) -> str:
    return f"{value:.0f}" if np.isfinite(value) else "never"


def table_lines(table: Table, summary: Summary, checkpoints: Sequence[int], seeds: int) -> list[str]:
    at, to_target = summary.at, summary.to_target
    methods = ordered(at.index.get_level_values("method").unique())
    cols = [n for n in checkpoints if n in at.index.get_level_values("eval")]
    lines = [f"### {table.name}", "",
             f"{table.metric} ({table.mode}imize); optimum (best seed-averaged value of all {len(table.means):,} rows): "
             f"{fmt(table.optimum)}. "
             f"Median over {seeds} seeds of the incumbent's seed-averaged {table.metric} (regret in brackets).", "",
             "| method | " + " | ".join(f"{n} evals" for n in cols) + " | evals to random's best |", "|---" * (len(cols) + 2) + "|"]
    for method in methods:
        cells = [f"{fmt(at.loc[(method, n), TEST_KEY])} ({fmt(at.loc[(method, n), 'regret'])})" if (method, n) in at.index else "-"
                 for n in cols]
        reach = to_target.get(method, np.inf)
        lines.append(f"| {method} | " + " | ".join(cells) + f" | {fmt_evals(reach)} |")
    return lines + [""]


def plot_table(table: Table, curves: pd.DataFrame, path: Path) -> Path:
    """Median regret vs evaluations (log y, interquartile band); zero regret is drawn at a floor."""
    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.subplots()
    positive = curves.loc[curves["regret"] > 0, "regret"]
    floor = positive.min() / 2 if len(positive) else 1e-6
    grouped = curves.assign(regret=curves["regret"].clip(lower=floor)).groupby(["method", "eval"])["regret"]
    for i, method in enumerate(ordered(curves["method"].unique())):
        q = grouped.quantile([0.25, 0.5, 0.75]).unstack().loc[method]
        colour = colormaps.get_cmap("tab10")(i)
        ax.plot(q.index, q[0.5], color=colour, lw=2 if method in NARS_VARIANTS else 1.3, label=method, drawstyle="steps-post")
        ax.fill_between(q.index, q[0.25], q[0.75], color=colour, alpha=0.12, lw=0, step="post")
    ax.set_yscale("log")
    ax.set_xscale("log")
    ax.set_xlabel("evaluations (table queries)")
    ax.set_ylabel(f"regret of the incumbent ({table.metric}, seed-averaged)")
    ax.set_title(f"{table.name}: median regret over {curves['seed'].nunique()} seeds (band: quartiles; 0 at the floor)",
                 fontsize=9)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def baseline_versions() -> str:
    """The versions of the baselines' packages this run used (pinned in the `bench` extra)."""
    installed = {d.metadata["Name"].lower(): d.version for d in metadata.distributions()}
    return "Baseline packages (pinned in the `bench` extra): " + ", ".join(
        f"{p} {installed.get(p.lower(), 'not installed')}" for p in BASELINE_PACKAGES)


def median_tau_by(rounds: pd.DataFrame, evals: int) -> str:
    """Median over seeds of the last tested tau with at most `evals` evaluations measured."""
    last = rounds[rounds["trained_on"] <= evals].sort_values("trained_on").groupby("seed").tail(1)["tau"]
    return f"{last.median():.2f}" if len(last) else "-"


def best_baseline(values: pd.Series) -> tuple[str, float]:
    """The baseline (not a NARS variant) with the lowest value, and that value."""
    baselines = values.drop([m for m in NARS_VARIANTS if m in values.index])
    return str(baselines.idxmin()), float(baselines.min())


def versus_cell(nars: float, baseline: tuple[str, float], show: Callable[[float], str]) -> str:
    name, best = baseline
    return f"{show(nars)} vs {show(best)} ({name})" + (" tie" if nars == best else "")


def goal_lines(goals: list[tuple[str, Summary]], reference: int) -> list[str]:
    """The goals per table and NARS variant, against each table's best baseline at each point:
    1. the lowest median regret after each of GOAL_EVALS evaluations (a tie at the lowest counts);
    2. strictly fewer evaluations (median over seeds) to random search's `reference`-evaluation best."""
    checkpoints = [n for n in GOAL_EVALS if n <= reference] or [reference]
    rows, met = [], {v: [0, 0, 0] for v in NARS_VARIANTS}  # tables, goal 1 met, goal 2 met
    for name, summary in goals:
        regret = summary.at["regret"].unstack("method")
        if set(regret.columns) <= set(NARS_VARIANTS):
            continue
        for variant in (v for v in NARS_VARIANTS if v in regret.columns):
            at = [(regret.loc[n, variant], best_baseline(regret.loc[n])) for n in checkpoints]
            lowest = all(nars <= best for nars, (_, best) in at)
            reach, reach_best = summary.to_target.get(variant, np.inf), best_baseline(summary.to_target)
            faster = reach < reach_best[1]
            met[variant] = [met[variant][0] + 1, met[variant][1] + lowest, met[variant][2] + faster]
            rows.append(f"| {name} | {variant} | " + " | ".join(versus_cell(nars, best, fmt) for nars, best in at)
                        + f" | {versus_cell(reach, reach_best, fmt_evals)} | {'yes' if lowest else 'no'} | {'yes' if faster else 'no'} |")
    run = [v for v in NARS_VARIANTS if met[v][0]]

    def verdict(goal: int) -> str:
        return "; ".join(f"{v} {'met' if met[v][goal] >= GOAL_TABLES else 'missed'} ({met[v][goal]} of {met[v][0]} tables)" for v in run)

    return [
        "### Goals", "",
        (f"1. NARS has the lowest median regret of all methods after {' and after '.join(map(str, checkpoints))} evaluations "
         f"on at least {GOAL_TABLES} tables (a tie at the lowest counts): {verdict(1)}."),
        (f"2. NARS reaches random search's {reference}-evaluation best in fewer evaluations (median over seeds) than every "
         f"baseline on at least {GOAL_TABLES} tables: {verdict(2)}."), "",
        "Each cell: NARS vs the best baseline at that point (named in brackets).", "",
        "| table | variant | " + " | ".join(f"median regret at {n}" for n in checkpoints)
        + f" | evals to random's {reference}-eval best | goal 1 | goal 2 |",
        "|---" * (len(checkpoints) + 5) + "|", *rows, "",
    ]
