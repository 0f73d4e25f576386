"""What a search's trials say, in lines a person reads: whether they carry any signal at all, and what each
predicted round promised against what it measured.

The search's closing summary (`nars.stages.summary`) and the report (`nars.analysis.report`) print these same
lines, so that a pooled rank correlation never stands in for "did the predictor's picks do any better".
"""

from __future__ import annotations

import pandas as pd

from nars.records.tables import MEASURED

NO_SIGNAL_SPREAD = 0.01
"""Metric points: measured values closer than the 2 decimals every table shows tell no trial from another."""


def measured_trials(trials: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Trials whose `metric` was measured by training (ok, or stopped early)."""
    return trials[trials["status"].isin(MEASURED) & trials[metric].notna()]


def no_signal(trials: pd.DataFrame, metric: str) -> str | None:
    """The warning when every measured trial scored the same (all 0.00 AP, or all equal): then no trial is better
    than another and a winner named from them is a guess. None when the trials differ or fewer than 2 were measured."""
    values = measured_trials(trials, metric)[metric]
    if len(values) < 2 or values.max() - values.min() >= NO_SIGNAL_SPREAD:
        return None
    low, high = f"{values.min():.2f}", f"{values.max():.2f}"
    shown = low if low == high else f"{low} to {high}"
    return (f"all {len(values)} trials measured {shown} {metric.upper()}: the trials carry no signal; "
            "train longer (search.proxy_epochs) or use more data")


def round_lines(trials: pd.DataFrame, metric: str) -> list[str]:
    """One line per predicted round (round >= 1, trials with a prediction made before they trained): the mean
    predicted and measured `metric`, and how many of its trials beat the best start trial (round 0)."""
    data = measured_trials(trials, metric)
    rounds = data["round"].astype("Float64").fillna(-1)
    start = data.loc[rounds == 0, metric]
    predicted = data[(rounds >= 1) & data["predicted"].notna()]
    name = metric.upper()
    lines = []
    for round_, group in predicted.groupby("round", sort=True):
        trials_ = f"{len(group)} trial{'s' if len(group) != 1 else ''}"
        line = (f"round {round_} ({trials_}): predicted {group['predicted'].mean():.2f} {name} on average, "
                f"measured {group[metric].mean():.2f} (best {group[metric].max():.2f})")
        if len(start):
            beat = int((group[metric] > start.max()).sum())
            verdict = "none" if beat == 0 else f"{beat} of {len(group)}"
            line += f"; {verdict} beat the best start trial (round 0: {start.max():.2f})"
        lines.append(line)
    return lines


def coverage_line(trials: pd.DataFrame, metric: str) -> str | None:
    """How often the predictor's +-1 std, given before a trial trained, held its measurement (pooled over the predicted
    rounds); None when no trial carries a predicted std. A calibrated std holds about 68%: far fewer means the search
    explored with an uncertainty it did not have, far more that it explored too little."""
    data = measured_trials(trials, metric)
    if "predicted_std" not in data:
        return None
    predicted = data[data["predicted"].notna() & data["predicted_std"].notna()]
    if predicted.empty:
        return None
    held = int((abs(predicted[metric] - predicted["predicted"]) <= predicted["predicted_std"]).sum())
    return (f"+-1 predicted std held the measurement of {held} of {len(predicted)} predicted trials ({held / len(predicted):.0%}; "
            "a calibrated std holds about 68%)")
