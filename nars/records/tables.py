"""The trial and curve tables of a search: one schema, one status rule, for every source.

`nars.search` builds them from Ray's `ResultGrid` at the end of a search (`collect`), the analysis
builds them from Ray's trial folders while a search still runs: both go through `trial_row` /
`trial_table` / `curve_part`, so a table reads the same whichever way it was made.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.atomic import atomic_open, atomic_write_text
from detector.evaluation.metric_names import AP_KEYS
from nars.records import run_folder
from nars.trial.keys import INFEASIBLE_KEY, PREDICTED_KEY, PREDICTED_STD_KEY, ROUND_KEY, split_config
from search_spaces.constraints import METRICS as COST_METRICS
from search_spaces.point import Point

STATUSES = ("ok", "stopped", "failed", "infeasible", "running")
MEASURED = ("ok", "stopped")  # statuses whose accuracy was measured by training
LABELLED = ("ok",)  # ... and on the whole proxy budget: what the predictor learns from (a stopped trial's AP is early)
METRICS = AP_KEYS

# column -> dtype of `trials`; then one `param.<name>` column per search-space parameter
TRIAL_DTYPES: dict[str, str] = {
    "trial_id": "str", "round": "Int64", "status": "str", "error": "str",
    "ap": "float64", "ap50": "float64", "ap75": "float64",
    "flops": "float64", "params": "float64", "latency_ms": "float64",
    "epochs": "int64", "wall_time_s": "float64", "init": "str", "inherited_share": "float64",
    "predicted": "float64", "predicted_std": "float64", "finished_at": "float64",
}
TRIAL_COLUMNS = list(TRIAL_DTYPES)
CURVE_DTYPES: dict[str, str] = {
    "trial_id": "str", "epoch": "int64", "ap": "float64", "ap50": "float64", "ap75": "float64",
    "loss": "float64", "lr": "float64", "time_total_s": "float64",
}
CURVE_COLUMNS = list(CURVE_DTYPES)
PARAM_PREFIX = "param."


def first_line(error: Any) -> str:
    """The line of a traceback or exception that says what went wrong (its last message line)."""
    text = str(error).strip().splitlines()
    lines = [line for line in text if line.strip() and not line.startswith(("Traceback", "  "))]
    return (lines[-1] if lines else type(error).__name__)[:300]


def trial_status(error: Any, metrics: Mapping[str, Any], proxy_epochs: int, running: bool = False) -> tuple[str, str]:
    """(status, error message) of a trial: failed, infeasible, ok (trained the whole proxy budget),
    running (unfinished in a live search) or stopped (ended early, by ASHA or a killed search)."""
    epochs = int(metrics.get("epoch", 0) or 0)
    if error is not None:
        return "failed", first_line(error)
    if metrics.get(INFEASIBLE_KEY):
        return "infeasible", "breaks a constraint: not trained"
    if epochs >= proxy_epochs:
        return "ok", ""
    return ("running" if running else "stopped"), ""


def trial_row(trial_id: str, config: Mapping[str, Any], metrics: Mapping[str, Any], error: Any, proxy_epochs: int,
              running: bool = False) -> dict[str, Any]:
    """One row of `trials` from a trial's config, its last reported metrics and its error (None if none)."""
    point, bookkeeping = split_config(config)
    status, message = trial_status(error, metrics, proxy_epochs, running)
    row = {
        "trial_id": str(trial_id), "round": bookkeeping.get(ROUND_KEY), "status": status, "error": message,
        **{k: metrics.get(k) for k in (*METRICS, *COST_METRICS)},
        "epochs": int(metrics.get("epoch", 0) or 0), "wall_time_s": metrics.get("time_total_s"), "init": metrics.get("init"),
        "inherited_share": metrics.get("inherited_share"),
        "predicted": bookkeeping.get(PREDICTED_KEY), "predicted_std": bookkeeping.get(PREDICTED_STD_KEY),
        "finished_at": metrics.get("timestamp"),
    }
    if status == "failed":
        row.update({k: None for k in METRICS})
    row.update({f"{PARAM_PREFIX}{k}": v for k, v in point.items()})
    return row


def typed_trials(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Every documented column with its dtype (absent ones as missing), `param.*` after, best first.

    Ties (short trials often all score 0 AP) go in the order the trials finished, then by id: Ray's own trial order
    changes when a search is resumed, and the table must not.
    """
    frame = _coerce(frame, TRIAL_DTYPES)
    params = sorted(c for c in frame.columns if c.startswith(PARAM_PREFIX))
    frame = frame[TRIAL_COLUMNS + params]
    return frame.sort_values([metric, "finished_at", "trial_id"], ascending=[False, True, True], na_position="last",
                             kind="stable").reset_index(drop=True)


def trial_table(rows: Iterable[Mapping[str, Any]], metric: str) -> pd.DataFrame:
    """The `trials` table of `trial_row` rows (best `metric` first)."""
    return typed_trials(pd.DataFrame(list(rows)), metric)


def curve_part(trial_id: str, frame: pd.DataFrame) -> pd.DataFrame:
    """One trial's rows of `curves` from its reported results (one row per epoch; epoch 0 is no training)."""
    part = frame[[c for c in CURVE_COLUMNS if c in frame and c != "trial_id"]].copy()
    part.insert(0, "trial_id", str(trial_id))
    return part[part["epoch"] > 0] if "epoch" in part else part.iloc[0:0]


def curve_table(parts: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """The long `curves` table (trial_id, epoch, metrics) with the documented columns and dtypes."""
    parts = [p for p in parts if len(p)]
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=CURVE_COLUMNS)
    return typed_curves(frame)


def typed_curves(frame: pd.DataFrame) -> pd.DataFrame:
    """Every documented column of `curves` with its dtype, in order."""
    return _coerce(frame, CURVE_DTYPES)[CURVE_COLUMNS].reset_index(drop=True)


def _coerce(frame: pd.DataFrame, dtypes: Mapping[str, str]) -> pd.DataFrame:
    """Cast `dtypes`' columns (adding absent ones as missing); text columns hold "" for missing."""
    frame = frame.copy()
    for column, dtype in dtypes.items():
        values = frame[column] if column in frame else pd.Series([None] * len(frame), index=frame.index, dtype="object")
        if dtype == "str":
            frame[column] = values.map(lambda v: "" if _missing(v) else str(v)).astype("str")
        elif dtype == "int64":
            frame[column] = pd.to_numeric(values, errors="coerce").fillna(0).astype("int64")
        else:
            frame[column] = pd.to_numeric(values, errors="coerce").astype(dtype)
    return frame


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def collect(results: Any, proxy_epochs: int, metric: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`trials` and `curves` of a Tune `ResultGrid`: flattened params, metrics, costs, status, error, time."""
    rows, curves = [], []
    for result in results:
        metrics = result.metrics or {}
        trial_id = metrics.get("trial_id") or Path(result.path).name
        rows.append(trial_row(trial_id, result.config or {}, metrics, result.error, proxy_epochs))
        if result.metrics_dataframe is not None:
            curves.append(curve_part(trial_id, result.metrics_dataframe))
    return trial_table(rows, metric), curve_table(curves)


def points_of(trials: pd.DataFrame) -> list[Point]:
    """The point of each row of `trials` (its `param.*` values; a parameter that did not apply is left out)."""
    params = [c for c in trials.columns if c.startswith(PARAM_PREFIX)]
    return [{c.removeprefix(PARAM_PREFIX): _plain(v) for c, v in row.items() if not _missing(v)} for _, row in trials[params].iterrows()]


def write_tables(trials: pd.DataFrame, curves: pd.DataFrame, output: Path) -> None:
    """`trials.csv`, `trials.parquet` and `curves.csv` in a run folder, each written atomically."""
    atomic_write_text(output / run_folder.TRIALS_CSV, trials.to_csv(index=False))
    with atomic_open(output / run_folder.TRIALS_PARQUET, "wb") as handle:
        trials.to_parquet(handle, index=False)
    atomic_write_text(output / run_folder.CURVES_CSV, curves.to_csv(index=False))
