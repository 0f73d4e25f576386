"""The console summary at the end of a search: trial counts, the first rows of the trial table, the winner."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from nars.records import run_folder
from nars.stages.final import Winner


def print_summary(trials: pd.DataFrame, winner: Winner, metric: str, output: Path, seconds: float) -> None:
    counts = trials["status"].value_counts().to_dict()
    shown = trials[["trial_id", "round", "status", metric, "flops", "params", "epochs", "wall_time_s"]].head(8).copy()
    shown["flops"] = shown["flops"].map(lambda v: f"{v / 1e9:.2f}G" if isinstance(v, (int, float)) and not math.isnan(v) else "-")
    shown["params"] = shown["params"].map(lambda v: f"{v / 1e6:.2f}M" if isinstance(v, (int, float)) and not math.isnan(v) else "-")
    print(f"\nsearch finished in {seconds / 60:.1f} min: {len(trials)} trials ({', '.join(f'{v} {k}' for k, v in counts.items())})")
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    measured = f", measured {winner.measured:.2f}" if winner.measured is not None else ""
    print(f"\nwinner: {winner.choice} ({winner.scored_per_minute:,.0f} candidates/min); predicted {metric} {winner.predicted:.2f}{measured}")
    print(f"final predictor pretrained on: {winner.pretraining}")
    print(f"outputs in {output}: {run_folder.TRIALS_CSV}, {run_folder.CURVES_CSV}, {run_folder.BEST_RECIPE}, {run_folder.PREDICTOR}, "
          f"{run_folder.SEARCH_CONFIG}, {run_folder.REPORT}/")
    print(f"train the winner: python -m detector.train --config {output / run_folder.BEST_RECIPE} --data <dataset> --output <dir>")
