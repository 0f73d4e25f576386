"""The console summary at the end of a search: trial counts, the first rows of the trial table, what each predicted
round promised and measured, the winner (or a warning where the trials cannot name one), and the commands that
train it and say how good it is."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from nars.records import run_folder
from nars.records.trained import default_folder, final_folder
from nars.records.verdict import coverage_line, no_signal, round_lines
from nars.stages.final import Winner


def print_summary(trials: pd.DataFrame, winner: Winner, metric: str, output: Path, seconds: float, data_flags: str) -> None:
    """`data_flags`: the `detector.train` flags of the search's data set, for the closing commands."""
    counts = trials["status"].value_counts().to_dict()
    shown = trials[["trial_id", "round", "status", metric, "flops", "params", "epochs", "wall_time_s"]].head(8).copy()
    shown["flops"] = shown["flops"].map(lambda v: f"{v / 1e9:.2f}G" if isinstance(v, (int, float)) and not math.isnan(v) else "-")
    shown["params"] = shown["params"].map(lambda v: f"{v / 1e6:.2f}M" if isinstance(v, (int, float)) and not math.isnan(v) else "-")
    print(f"\nsearch finished in {seconds / 60:.1f} min: {len(trials)} trials ({', '.join(f'{v} {k}' for k, v in counts.items())})")
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    rounds = [line for line in [*round_lines(trials, metric), coverage_line(trials, metric)] if line]
    if rounds:
        print("\npredicted rounds (predictions made before the trials trained):\n  " + "\n  ".join(rounds))
    warning = no_signal(trials, metric)
    if warning is not None:
        print(f"\nwarning: {warning}\n{run_folder.BEST_RECIPE} was written, but no trial measured better than another: it names no winner")
    else:
        measured = f", measured {winner.measured:.2f} on the proxy budget" if winner.measured is not None else ", not trained in a trial"
        print(f"\nwinner: {winner.choice} ({winner.scored_per_minute:,.0f} candidates/min); predicted {metric} {winner.predicted:.2f}{measured}")
    print(f"final predictor pretrained on: {winner.pretraining}")
    print(f"outputs in {output}: {run_folder.TRIALS_CSV}, {run_folder.CURVES_CSV}, {run_folder.BEST_RECIPE}, {run_folder.DEFAULT_RECIPE}, "
          f"{run_folder.PREDICTOR}, {run_folder.SEARCH_CONFIG}, {run_folder.REPORT}/, {run_folder.RAY_LOGS}/ (Ray's own logs); "
          f"TensorBoard: tensorboard --logdir {output / run_folder.TRIALS}")
    print(f"train the winner: python -m detector.train --config {output / run_folder.BEST_RECIPE} {data_flags} --output {final_folder(output)}\n"
          f"and the default recipe, to compare: python -m detector.train --config {output / run_folder.DEFAULT_RECIPE} {data_flags} "
          f"--output {default_folder(output)}\n"
          f"then python -m nars.analysis {output}: the report gives both trained {metric.upper()}s beside the trials'")
