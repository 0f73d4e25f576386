"""The real detector trial resumes from its checkpoint: after a crash (Ray's retry) and after an interrupted search.

Both run the real `nars.search` CLI with the real trial (`nars.trainable.run_trial`, wrapped by
`interrupted_trials` only to log what it trains and to crash or pause at a known point): two tiny trials of two
proxy epochs, one at a time. The restore branch of `run_trial` (copy the Tune checkpoint back into the trial's
folder, `train(..., resume=True)`) is what a user's interrupted search runs; the slow kill/resume tests use a
stand-in trial with its own checkpoint logic.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pandas as pd

from _tiny import REPO
from interrupted_trials import search_command
from search_trials import ENV, read_events

SETTINGS = ["constraints=[]", "search.num_samples=2", "search.initial_points=2", "search.proxy_epochs=2", "search.max_concurrent=1",
            "search.predictor.pretrain_points=8", "search.evolution={population: 8, generations: 2, children_per_generation: 16}",
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


def _finished_table(output: Path) -> pd.DataFrame:
    trials = pd.read_csv(output / "trials.csv")
    assert len(trials) == 2 and set(trials["status"]) == {"ok"} and set(trials["epochs"]) == {2}, trials
    return trials


def test_a_crashed_trial_is_retried_from_its_checkpoint(tmp_path: Path) -> None:
    """Each trial raises after reporting epoch 1; with `max_failures=1` Ray retries it and it trains epoch 2 only."""
    output = tmp_path / "search"
    proc = subprocess.run(search_command("crash_once", output, [*SETTINGS, "search.max_failures=1"]), cwd=REPO, env=ENV,
                          capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    trials = _finished_table(output)
    trained = _trained(read_events(output))
    assert set(trained) == set(trials["trial_id"])
    for trial_id, epochs in trained.items():
        assert epochs == [(1, 1), (2, 2)], f"{trial_id}: retried trial trained {epochs}, not epoch 2 from its checkpoint"
        assert _logged_epochs(output, trial_id) == [1, 2]


def test_an_interrupted_search_resumes_its_running_trial_and_trains_nothing_again(tmp_path: Path) -> None:
    """Ctrl-C while the second trial waits after its epoch 1 (the driver holds that checkpoint), then `--resume`."""
    output = tmp_path / "search"
    log = tmp_path / "search.log"
    with open(log, "w") as handle:
        proc = subprocess.Popen(search_command("pausing", output, SETTINGS), cwd=REPO, env=ENV, stdout=handle,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline and proc.poll() is None:
            if any(e["event"] == "paused" for e in read_events(output)):
                proc.send_signal(signal.SIGINT)
                break
            time.sleep(0.2)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # Ray helper processes the driver may leave behind in its session
        except ProcessLookupError:
            pass
    assert proc.returncode == 130, f"the search was not interrupted while the trial paused:\n{log.read_text()[-3000:]}"
    before = read_events(output)
    (paused,) = {e["trial_id"] for e in before if e["event"] == "paused"}
    (finished,) = {e["trial_id"] for e in before if e["event"] == "end" and e["epoch"] == 2}

    resumed = subprocess.run([*search_command("pausing", output, SETTINGS), "--resume"], cwd=REPO, env=ENV, capture_output=True,
                             text=True, timeout=TIMEOUT_S, check=False)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming" in resumed.stdout
    after = _trained(read_events(output)[len(before):])
    assert finished not in after, f"the finished trial {finished} trained again: {after[finished]}"
    assert after == {paused: [(2, 2)]}, f"the interrupted trial did not continue from its epoch-1 checkpoint: {after}"
    trials = _finished_table(output)
    assert set(trials["trial_id"]) == {paused, finished}
    assert _logged_epochs(output, paused) == [1, 2] and _logged_epochs(output, finished) == [1, 2]
