"""The answer to "how good is the detector": the winner's accuracy after its final training beside the best trial's
and the default recipe's, each with how it was measured, so that no predicted or proxy figure passes for a result.

The report tables it (`nars.analysis.report`); `python -m nars.analysis --trained` prints the same rows.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from nars.analysis.run import Run
from nars.records import run_folder
from nars.records.trained import default_folder, final_folder
from nars.records.verdict import no_signal

HOW = "measured how"


def comparison(run: Run) -> pd.DataFrame:
    """One row per figure a person compares: `recipe`, the metric (NaN where nothing measured it), `measured how`."""
    metric = run.metric
    trained, default = run.trained, run.default
    rows = [_row("winner (best_recipe.yaml) after its final training", trained.value if trained else None,
                 (trained.describe() + ("; these images also ranked the trials: optimistic" if trained.optimistic else ""))
                 if trained else "not trained yet", metric)]
    best = run.best(1)
    if len(best):
        top = best.iloc[0]
        winner = run.winner()
        own = " (the winner's own trial)" if winner is not None and winner["trial_id"] == top["trial_id"] else ""
        own = " (every trial measured the same: no best)" if no_signal(run.trials, metric) else own
        rows.append(_row(f"best trial {top['trial_id']}{own}", top[metric],
                         f"the search's val split, after {top['epochs']} epochs (the proxy budget)", metric))
    if run.recipe is not None and run.recipe.predicted is not None:
        rows.append(_row("winner, predicted", run.recipe.predicted, "not measured: the final predictor's estimate", metric))
    rows.append(_row("default recipe (default_recipe.yaml)", default.value if default else None,
                     default.describe() if default else "not trained yet", metric))
    return pd.DataFrame(rows)


def notes(run: Run) -> list[str]:
    """The verdict, what the comparison's figures do not say by themselves, and the commands that fill its gaps."""
    lines = [line[0].upper() + line[1:] + "." for line in [verdict(run)] if line]
    if run.trained is None:
        lines.append(_untrained(run, "the winner's final training", run.trained_error, "The winner",
                                run_folder.BEST_RECIPE, final_folder(run.path),
                                f", then `python -m nars.analysis {run.path}` (or `--trained DIR` for a training elsewhere)."))
    elif run.trained.optimistic:
        lines.append("The trained figure is on the validation images, which also ranked the trials and so chose the winner: it "
                     "flatters the winner. A held-out test split (`test.json` beside `val.json`; `detector.train` evaluates it "
                     "once, into `eval_test.json`) measures it without that bias.")
    if run.default is None:
        lines.append(_untrained(run, "the default recipe's training", run.default_error, "The default recipe",
                                run_folder.DEFAULT_RECIPE, default_folder(run.path),
                                " (the recipe without a search, for the winner's epochs on the same data; or `--default DIR` "
                                "for another training of the recipe you would otherwise use)."))
    elif run.trained is not None and not run.trained.measured_like(run.default):
        lines.append(f"The winner and the default recipe were not measured alike ({run.trained.describe()} against "
                     f"{run.default.describe()}): compare them on the same split after the same epochs.")
    return lines


def _untrained(run: Run, training: str, error: str, subject: str, recipe: str, folder: Path, after: str) -> str:
    """Why a training has no figure: its folder holds no result yet (`error`), or the command that trains it."""
    if error:
        return f"No result of {training} yet: {error}."
    return (f"{subject} is not trained yet: `python -m detector.train --config {run.path / recipe} {run.train_flags()} "
            f"--output {folder}`{after}")


def verdict(run: Run) -> str | None:
    """The answer in one line, where the winner and the default recipe were trained and measured alike: by how much the
    search beat the default (or did not). None otherwise."""
    trained, default = run.trained, run.default
    if trained is None or default is None or not trained.measured_like(default):
        return None
    gap = trained.value - default.value
    where = f"{trained.split} split" + (f", {trained.images} images" if trained.images else "")
    if round(gap, 2) == 0:
        outcome = "level with the default recipe: the search gained nothing here"
    elif gap > 0:
        outcome = f"{gap:.2f} {run.metric.upper()} above the default recipe"
    else:
        outcome = f"{-gap:.2f} {run.metric.upper()} below the default recipe: the search did not pay off here"
    caveat = "; these images also chose the winner" if trained.optimistic else ""
    return f"verdict: the winner measured {outcome} ({where}, one training each{caveat})"


def headline(run: Run) -> list[str]:
    """The comparison as console lines: 'winner (...) after its final training: 11.30 AP, val split, ...', then the
    verdict where there is one."""
    metric = run.metric
    lines = [f"{row['recipe']}: " + (row[HOW] if math.isnan(row[metric]) else f"{row[metric]:.2f} {metric.upper()}, {row[HOW]}")
             for _, row in comparison(run).iterrows()]
    return lines + [line for line in [verdict(run)] if line]


def _row(recipe: str, value: float | None, how: str, metric: str) -> dict[str, object]:
    return {"recipe": recipe, metric: math.nan if value is None else float(value), HOW: how}
