"""`write_report(runs, output)`: `report.md` and its PNGs for one search or several compared.

Every section states its figures' source tables, and says why when a figure cannot be drawn
(no measured trial, no predictions), so a report is never silently incomplete.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from core.atomic import atomic_write_text
from nars.analysis import how_good, plots
from nars.analysis.run import COST_AXES, MIN_QUALITY_TRIALS, Run, load_run
from nars.records import run_folder
from nars.records.tables import METRICS as AP_COLUMNS
from nars.records.tables import PARAM_PREFIX, STATUSES
from nars.records.verdict import coverage_line, no_signal, round_lines

TOP_PARAMETERS = 6  # parameters shown in the top-k values figure
REPORT = "report.md"


def write_report(runs: Sequence[str | Path | Run], output: str | Path, top_k: int = 5) -> Path:
    """Load `runs` (folders or `Run`s), draw every figure into `output`, write `output/report.md`; returns its path."""
    loaded = [run if isinstance(run, Run) else load_run(run) for run in runs]
    loaded = [dataclasses.replace(run, label=label) for run, label in zip(loaded, unique_labels(loaded))]
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    lines = ["# Search report", "", ("Written by `python -m nars.analysis`. Accuracy is COCO AP in percent on the search's "
             "validation split after the proxy budget; FLOPs are for one image at the search resolution."), ""]
    lines += overview(loaded)
    lines += ["## Best accuracy so far", ""]
    if any(len(run.measured()) for run in loaded):
        figure = plots.best_so_far(loaded, output / "best_so_far.png")
        lines += [f"![best accuracy so far vs trials]({figure.name})", ""]
    else:
        lines += ["No trial has a measured accuracy yet.", ""]
    for i, run in enumerate(loaded):
        prefix = f"{i + 1}_" if len(loaded) > 1 else ""
        lines += run_section(run, output, prefix, top_k)
    path = output / REPORT
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path


def unique_labels(runs: Sequence[Run]) -> list[str]:
    """Each run's label, with more of its path when two runs would read the same."""
    labels = [run.label for run in runs]
    for depth in range(2, max((len(run.path.parts) for run in runs), default=1) + 1):
        if len(set(labels)) == len(labels):
            break
        labels = [f"{run.searcher} ({'/'.join(run.path.parts[-depth:])})" for run in runs]
    return labels


def overview(runs: Sequence[Run]) -> list[str]:
    rows = []
    for run in runs:
        best = run.best(1)
        rows.append({
            "run": run.label, "folder": str(run.path), "trials": statuses(run.trials),
            f"best {run.metric}": best[run.metric].iloc[0] if len(best) else None,
            "best trial": best["trial_id"].iloc[0] if len(best) else "-",
            "trial time (min)": run.trials["wall_time_s"].sum() / 60,
        })
    return ["## Runs", "", markdown_table(pd.DataFrame(rows)), ""]


def run_section(run: Run, output: Path, prefix: str, top_k: int) -> list[str]:
    """The report section of one run: trials, Pareto front, predictor, importance, curves, top-k values."""
    live = "; the search is still running or was stopped before writing trials.csv" if run.source.name != run_folder.TRIALS_CSV else ""
    lines = [f"## {run.label}", "", f"Read from `{run.source}`{live}. Trials: {statuses(run.trials)}.", ""]
    failed = run.trials[run.trials["status"].isin(["failed", "infeasible"])]
    if len(failed):
        lines += ["Trials without a measured accuracy:", "", markdown_table(failed[["trial_id", "round", "status", "error"]]), ""]
    measured = run.measured()
    if measured.empty:
        return lines + [f"No trial has a measured {run.metric} yet: nothing more to show.", ""]

    if (warning := no_signal(run.trials, run.metric)) is not None:
        lines += [f"**Warning: {warning}.** `best_recipe.yaml` names no winner: no trial measured better than another.", ""]
    lines += ["### How good is the winner", "", markdown_table(how_good.comparison(run)), "", *(f"{note}\n" for note in how_good.notes(run))]
    importance = run.importance()
    lines += top_trials(run, top_k)
    lines += pareto_section(run, output, prefix)
    lines += inheritance_section(run, output, prefix)
    lines += predictor_section(run, output, prefix)
    lines += ["### Parameter importance", ""]
    if importance.empty:
        lines += [f"Not computed: {importance.attrs['why']}.", ""]
    else:
        figure = plots.importance(run, importance, output / f"{prefix}importance.png")
        lines += [(f"Method: {importance.attrs['method']}. Importance = how much the forest's mean absolute error of "
                  f"{run.metric} grows (AP points) when the parameter is shuffled."), "",
                  f"![parameter importance]({figure.name})", "", markdown_table(importance.head(10)), ""]
    lines += ["### Learning curves", ""]
    if run.curves.empty:
        lines += ["No per-epoch results were recorded.", ""]
    else:
        figure = plots.curves(run, output / f"{prefix}curves.png", highlight=top_k)
        lines += [f"![learning curves]({figure.name})", "", *zero_epochs(run)]
    parameters = list(importance["parameter"].head(TOP_PARAMETERS)) if len(importance) else varying_parameters(measured)[:TOP_PARAMETERS]
    if parameters:
        figure = plots.top_k_values(run, parameters, output / f"{prefix}top_k_values.png", k=top_k)
        lines += [f"### Parameter values of the top {top_k} trials", "", f"![top-k parameter values]({figure.name})", ""]
    return lines


def top_trials(run: Run, k: int) -> list[str]:
    best = run.best(k)
    table = pd.DataFrame({
        "trial_id": best["trial_id"], "round": best["round"], run.metric: best[run.metric], "predicted": best["predicted"],
        "GFLOPs": best["flops"] / 1e9, "M params": best["params"] / 1e6, "epochs": best["epochs"], "wall time (s)": best["wall_time_s"],
    })
    lines = [f"### Top {len(best)} trials", "", markdown_table(table), ""]
    shared = shared_values(run.measured(), best)
    if shared:
        lines += [f"All top {len(best)} trials share: " + ", ".join(f"`{name}={value}`" for name, value in shared.items())
                  + " (values not shared by every measured trial).", ""]
    return lines


def inheritance_section(run: Run, output: Path, prefix: str) -> list[str]:
    """How much each trial took from the checkpoint it searched from, and what that did to accuracy."""
    table = run.inheritance()
    if table.empty:
        return []
    figure = plots.inheritance(run, output / f"{prefix}inheritance.png")
    return ["### Inherited weights", "",
            ("`init`: `inherited` = every tensor but the class-specific predictor came whole from the checkpoint, `partial` = "
             "some were cut to the trial's arch or initialised (`detector.weights.inherit`), `scratch` = nothing fitted."), "",
            markdown_table(table), "", f"![accuracy vs share inherited]({figure.name})", ""]


def shared_values(measured: pd.DataFrame, best: pd.DataFrame) -> dict[str, Any]:
    """Parameters on which the best trials agree while the other measured trials vary."""
    shared = {}
    for name in varying_parameters(measured):
        values = best[name].astype(str).unique()
        if len(best) > 1 and len(values) == 1:
            shared[name.removeprefix(PARAM_PREFIX)] = best[name].iloc[0]
    return shared


def varying_parameters(measured: pd.DataFrame) -> list[str]:
    return [c for c in measured.columns if c.startswith(PARAM_PREFIX) and measured[c].astype(str).nunique() > 1]


def pareto_section(run: Run, output: Path, prefix: str) -> list[str]:
    x = run.cost_axis
    unit, name, heading, _ = COST_AXES[x]
    lines = [f"### {run.metric.upper()} vs {name} and the Pareto front", ""]
    front = run.pareto(x, run.metric)
    if front.empty:
        return lines + [f"No measured trial has {x}: no front to draw.", ""]
    figure = plots.pareto(run, output / f"{prefix}pareto.png")
    lines += [f"![{run.metric} vs {name}]({figure.name})", "", "Pareto front (no measured trial is both cheaper and more accurate):", "",
              markdown_table(pd.DataFrame({"trial_id": front["trial_id"], heading: front[x] / unit, run.metric: front[run.metric]})), ""]
    if run.recipe is not None and run.recipe.predicted is not None:
        measured = (f"measured on the proxy budget {run.recipe.measured:.2f}" if run.recipe.measured is not None
                    else "not trained during the search")
        lines += [f"Winner `{run.recipe.path.name}` ({run.recipe.choice}): predicted {run.metric} {run.recipe.predicted:.2f}, {measured}.", ""]
    return lines


def predictor_section(run: Run, output: Path, prefix: str) -> list[str]:
    lines = ["### Predictor quality", ""]
    quality = run.predictor_quality()
    if quality.empty:
        return lines + [f"Nothing to score: {quality.attrs['why']}.", ""]
    pooled = run.predictor_quality(by_round=False).iloc[0]
    figure = plots.predicted_vs_measured(run, quality, output / f"{prefix}predicted_vs_measured.png")
    lines += ["What each round's predictor promised for the trials it chose, before they trained, and what they measured:", "",
              *(f"- {line}" for line in [*round_lines(run.trials, run.metric), coverage_line(run.trials, run.metric)] if line), "",
              ("None of a round's trials was in its predictor's training data. Rank correlations say whether it ordered them "
               f"right (the search only orders candidates by it); rounds with fewer than {MIN_QUALITY_TRIALS} measured trials have none."), "",
              markdown_table(quality), "",
              (f"All rounds pooled: n={int(pooled['n'])}, Kendall tau {_number(pooled['kendall_tau'])}, "
              f"Spearman {_number(pooled['spearman'])}, RMSE {_number(pooled['rmse'])} AP points."), "",
              f"![predicted vs measured]({figure.name})", ""]
    return lines


def zero_epochs(run: Run) -> list[str]:
    """A note on the epochs at which at least half of the trials (and two or more) measured exactly 0 AP."""
    curves = run.curves.dropna(subset=[run.metric])
    counts = []
    for epoch, part in curves.groupby("epoch", sort=True):
        zero = part[part[[m for m in AP_COLUMNS if m in part]].eq(0).all(axis=1)]
        if len(zero) >= 2 and 2 * len(zero) >= len(part):
            counts.append(f"{len(zero)} of {len(part)} at epoch {epoch}")
    if not counts:
        return []
    return [(f"Trials that measured {run.metric.upper()} 0.00 (AP50 0.00 too: no detection overlapped a labelled box at IoU 0.5 or "
             f"more): {', '.join(counts)}. The curves do not record how many boxes the detector kept, so this run cannot tell why: "
             "either it scored every box below its score threshold (`model.roi_heads.score_thresh`) or its boxes missed. A single "
             "epoch on a few validation images is noisy; trials are ranked by their last epoch."), ""]


def statuses(trials: pd.DataFrame) -> str:
    """'7 ok, 1 failed': trials per status, in a fixed order."""
    counts = trials["status"].value_counts()
    return ", ".join(f"{int(counts[s])} {s}" for s in STATUSES if s in counts) or "none"


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub markdown table; floats with 2 decimals (3 significant digits when small), missing as '-'."""
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    rows = ["| " + " | ".join(_cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def _cell(value: Any) -> str:
    if isinstance(value, float) or pd.isna(value):
        return _number(value)
    return str(value).replace("|", "\\|").replace("\n", " ")


def _number(value: Any) -> str:
    if pd.isna(value):
        return "-"
    return f"{value:.2f}" if abs(value) >= 0.1 or value == 0 else f"{value:.3g}"
