"""Faulty trials in a real `nars.search`.

Six real detector trials (the quickstart space, a tiny synthetic data set, one proxy epoch) run through the
CLI with `search.max_failures=1`; `search_trials.faulty_trial` wraps the real trial and injects, by the order
in which trials start: nothing, an exception, a NaN loss (caught by the training engine's NaN guard), the
worker process dying (`os._exit(1)`), an exception on the first attempt only, nothing. Ray retries every
failed trial once. The search must finish, record each fault in `trials.csv` with status and message, recover
the flaky trial, and name a winner fitted on the good trials.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest

from detector.config import load_config
from helpers.search_trials import ENV, FAULTS, START_ORDER, read_events, search_command
from helpers.tiny import REPO

SETTINGS = ["search.max_failures=1", "search.proxy_epochs=1", "data.synthetic={num_train: 8, num_val: 2, image_size: [96, 128]}"]
TIMEOUT_S = 600
MESSAGES = {  # fault -> the start of its `error` in trials.csv
    "raise": "RuntimeError: boom: injected fault",
    "nan": "core.errors.TrainingError: loss became non-finite (nan) at epoch 1, iteration 1",
    "exit": "The actor is dead because its worker process has died",
}


@pytest.mark.slow
def test_failed_trials_are_recorded_retried_and_the_search_still_names_a_winner(tmp_path: Path) -> None:
    started = time.perf_counter()
    output = tmp_path / "search"
    proc = subprocess.run(search_command("faulty", output, SETTINGS), cwd=REPO, env=ENV, capture_output=True, text=True,
                          timeout=TIMEOUT_S, check=False)
    seconds = time.perf_counter() - started
    assert proc.returncode == 0, proc.stderr[-3000:]

    trials = pd.read_csv(output / "trials.csv", keep_default_na=False, na_values=[""])
    index = {p.name: int(p.read_text()) for p in (output / START_ORDER).iterdir() if not p.name.startswith("claimed_")}
    trials["fault"] = [FAULTS[index[t]] for t in trials["trial_id"]]
    assert sorted(trials["fault"]) == sorted(FAULTS), "every trial started once under its own fault"
    by_fault = trials.groupby("fault")
    for fault, rows in by_fault:
        if fault in MESSAGES:
            assert set(rows["status"]) == {"failed"}, rows
            assert all(e.startswith(MESSAGES[fault]) for e in rows["error"]), rows["error"].tolist()
            assert rows["ap"].isna().all()
        else:  # "ok" and "flaky": trained the proxy budget and measured
            assert set(rows["status"]) == {"ok"} and rows["error"].isna().all() and rows["ap"].notna().all(), rows

    attempts = pd.DataFrame([e for e in read_events(output) if e["event"] == "start"]).groupby("fault").size()
    assert attempts.to_dict() == {"ok": 2, "raise": 2, "nan": 2, "exit": 2, "flaky": 2}, "each failure retried once, max_failures=1"
    assert "6 trials (3 ok, 3 failed)" in proc.stdout
    recipe = load_config(output / "best_recipe.yaml")  # a complete, valid detector config
    assert recipe.train.epochs == 24
    print(f"\ntrial faults: {trials[['fault', 'status', 'error']].to_dict('records')}; attempts {attempts.to_dict()}; {seconds:.0f} s")
