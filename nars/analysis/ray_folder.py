"""Trial tables of a Ray Tune experiment folder, for a search still running or a bare storage path.

Reads the files every trial folder holds (`params.json`: the trial config; `result.json`: one JSON
line per `tune.report`; `error.txt` when it failed) with the standard library and pandas, without
`ray.init` and without unpickling anything, so it works on a folder another machine is writing.
A half-written last line of `result.json` is skipped. Whether an unfinished trial is still
running comes from the newest `experiment_state-*.json` snapshot when there is one (Ray's
internal format, so read best-effort); without it an unfinished trial counts as stopped.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from core.jsonl import read_jsonl
from nars.records.tables import curve_part, curve_table, trial_row, trial_table

LIVE = {"RUNNING", "PENDING", "PAUSED"}  # Ray trial states of a trial that may still report


def is_experiment(folder: Path) -> bool:
    """A Ray Tune experiment folder: trial folders with `params.json`, or Ray's experiment state."""
    return folder.is_dir() and (any(folder.glob("*/params.json")) or any(folder.glob("experiment_state-*.json")))


def live_trials(folder: Path) -> set[str]:
    """Ids of trials the newest experiment snapshot lists as running, pending or paused."""
    snapshots = sorted(folder.glob("experiment_state-*.json"))
    if not snapshots:
        return set()
    try:
        state = json.loads(snapshots[-1].read_text())
        trials = [json.loads(entry[0]) for entry in state["trial_data"]]
        return {str(t["trial_id"]) for t in trials if t.get("status") in LIVE}
    except (ValueError, KeyError, TypeError, IndexError):
        return set()


def read_experiment(folder: Path, proxy_epochs: int | None, metric: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(trials, curves) of a Ray experiment folder; `proxy_epochs` None: the most epochs any trial reached."""
    live = live_trials(folder)
    trials = []
    for params in sorted(folder.glob("*/params.json")):
        try:
            config = json.loads(params.read_text())
        except json.JSONDecodeError:
            continue  # Ray is still writing it: the trial has not started
        results = read_jsonl(params.parent / "result.json")
        error_file = params.parent / "error.txt"
        trial_id = next((str(r["trial_id"]) for r in results if r.get("trial_id")), params.parent.name.removeprefix("trial_"))
        trials.append((trial_id, config, results, error_file.read_text() if error_file.is_file() else None))
    if proxy_epochs is None:
        proxy_epochs = max([1] + [int(r.get("epoch", 0) or 0) for _, _, results, _ in trials for r in results])
    rows = [trial_row(trial_id, config, results[-1] if results else {}, error, proxy_epochs, running=trial_id in live)
            for trial_id, config, results, error in trials]
    curves = curve_table(curve_part(trial_id, pd.DataFrame(results)) for trial_id, _, results, _ in trials if results)
    return trial_table(rows, metric), curves
