"""The real detector trial resumes from its checkpoint: after a crash (Ray's retry) and after an interrupted search.

The real `nars.search` CLI runs the real trial (`nars.tune.trainable.run_trial`, wrapped by
`helpers.interrupted_trials` only to log what it trains and to crash or pause at a known point): two tiny trials
of two proxy epochs, one at a time. The first crashes after epoch 1 and Ray retries it; the second pauses after
epoch 1 and the search gets a Ctrl-C there, then `--resume`. The restore branch of `run_trial` (copy the Tune
checkpoint back into the trial's folder, `train(..., resume=True)`) is what a user's interrupted search runs; the
slow kill/resume tests use a stand-in trial with its own checkpoint logic.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pandas as pd

from helpers.interrupted_trials import search_command
from helpers.search_trials import ENV, read_events, search_process
from helpers.tiny import REPO

SETTINGS = ["constraints=[]", "search.num_samples=2", "search.initial_points=2", "search.proxy_epochs=2", "search.max_concurrent=1",
            "search.max_failures=1", "search.predictor.pretrain_points=8",
            "search.evolution={population: 8, generations: 2, children_per_generation: 16}",
            "data.synthetic={num_train: 4, num_val: 2, image_size: [96, 128]}"]
TIMEOUT_S = 300


def _trained(events: list[dict[str, Any]]) -> dict[str, list[tuple[int, int]]]:
    """Per trial, the (epoch, attempt) of every epoch it started training, in order."""
    trained: dict[str, list[tuple[int, int]]] = {}
    for e in events:
        if e["event"] == "train":
            trained.setdefault(e["trial_id"], []).append((e["epoch"], e["attempt"]))
    return trained


def _logged_epochs(output: Path, trial_id: str) -> list[int]:
    """Epochs in the trial's own `metrics.jsonl` (its training folder under RUN/trials)."""
    return [json.loads(line)["epoch"] for line in (output / "trials" / trial_id / "metrics.jsonl").read_text().splitlines()]


def test_a_crashed_trial_and_an_interrupted_search_continue_from_their_checkpoints(tmp_path: Path) -> None:
    output = tmp_path / "search"
    with search_process(search_command(output, SETTINGS), tmp_path / "search.log") as proc:
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline and proc.poll() is None:
            if any(e["event"] == "paused" for e in read_events(output)):
                proc.send_signal(signal.SIGINT)
                break
            time.sleep(0.2)
        proc.wait(timeout=120)
    log = (tmp_path / "search.log").read_text()
    assert proc.returncode == 130, f"the search was not interrupted while the second trial paused:\n{log[-3000:]}"
    before = read_events(output)
    (paused,) = {e["trial_id"] for e in before if e["event"] == "paused"}
    (crashed,) = {e["trial_id"] for e in before} - {paused}
    assert _trained(before)[crashed] == [(1, 1), (2, 2)], "the crashed trial was retried from its epoch-1 checkpoint"

    resumed = subprocess.run([*search_command(output, SETTINGS), "--resume"], cwd=REPO, env=ENV, capture_output=True, text=True,
                             timeout=TIMEOUT_S, check=False)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming" in resumed.stdout
    after = _trained(read_events(output)[len(before):])
    assert after == {paused: [(2, 2)]}, f"the interrupted trial did not continue from its epoch-1 checkpoint, or another trained: {after}"
    trials = pd.read_csv(output / "trials.csv")
    assert len(trials) == 2 and set(trials["status"]) == {"ok"} and set(trials["epochs"]) == {2}, trials
    assert set(trials["trial_id"]) == {paused, crashed}
    assert _logged_epochs(output, paused) == [1, 2] and _logged_epochs(output, crashed) == [1, 2]
