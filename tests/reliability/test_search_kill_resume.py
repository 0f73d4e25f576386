"""`kill -9` of a running `nars.search`, then `--resume`.

The real CLI runs a 6-trial NARS search (round 0: 3 Sobol points, round 1: 3 predicted ones) one trial at a
time, with the deterministic stand-in trial of `search_trials.toy_trial` (3 one-second epochs, a checkpoint
per epoch, every trained epoch logged). The search is killed with SIGKILL in the middle of the first
round-1 trial, then resumed with `--resume`:

* no trial that had finished before the kill trains again, and no reported epoch is trained twice: the
  interrupted trial continues from its last checkpoint (epoch 2 of 3);
* the trial table is complete (6 trials, all `ok`) and equal, point by point and metric by metric, to the
  table of a search that was never killed, and so is the winning recipe.

The same holds when the kill also cut Ray's experiment-state file short (as a kill during Ray's write of it
does): `--resume` puts back the run folder's snapshot of that state (`nars.tune.state`); and after a Ctrl-C
(SIGINT), which Tune catches: the search then exits 130 and writes no trial table and no winner from part of
its trials, so nothing mistakes it for a finished one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from helpers.search_trials import ENV, TOY_EPOCH_S, read_events, search_command, search_process
from helpers.tiny import REPO

EPOCHS = 3
ROUND_ZERO = 3
SETTINGS = ["search.max_concurrent=1", f"search.proxy_epochs={EPOCHS}", "data.synthetic={num_train: 2, num_val: 1, image_size: [96, 128]}"]
TIMEOUT_S = 300
RUN_SPECIFIC = ["trial_id", "wall_time_s", "finished_at"]  # ids and clocks differ between two runs


def _search(output: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(search_command("toy", output, SETTINGS, *flags), cwd=REPO, env=ENV, capture_output=True, text=True,
                          timeout=TIMEOUT_S, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def _trained(events: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """(point, epoch) of every epoch a trial trained and reported."""
    return [(e["key"], e["epoch"]) for e in events if e["event"] == "epoch"]


def _kill_in_first_predicted_trial(output: Path, how: signal.Signals = signal.SIGKILL) -> int:
    """Start the search, send `how` halfway through epoch 2 of its 4th trial; returns the number of events before the kill."""
    log = output.parent / f"{output.name}.log"
    with search_process(search_command("toy", output, SETTINGS), log) as proc:
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline and proc.poll() is None:
            keys = list(dict.fromkeys(key for key, _ in _trained(read_events(output))))
            if len(keys) > ROUND_ZERO:  # the 4th trial reported epoch 1 (and checkpointed it): it is now in epoch 2
                time.sleep(TOY_EPOCH_S / 2)  # a kill -9 leaves Ray's state as last written: give the driver its write
                os.kill(proc.pid, how)
                break
            time.sleep(0.1)
        proc.wait(timeout=60)
    expected = -signal.SIGKILL if how == signal.SIGKILL else 130  # a Ctrl-C ends like any interrupted CLI
    assert proc.returncode == expected, f"the search ended before the kill, or not as interrupted:\n{log.read_text()[-3000:]}"
    if how != signal.SIGKILL:
        assert "interrupted: Ray Tune saved its state; run the same command with --resume to continue" in log.read_text()
        assert not (output / "trials.csv").exists() and not (output / "best_recipe.yaml").exists()
    count = len(read_events(output))
    time.sleep(2 * TOY_EPOCH_S)
    assert len(read_events(output)) == count, "a trial went on training after the search was killed"
    return count


def _comparable(trials: pd.DataFrame) -> pd.DataFrame:
    """The trial table without run-specific columns, in a fixed row order (by point)."""
    frame = trials.drop(columns=RUN_SPECIFIC)
    params = sorted(c for c in frame.columns if c.startswith("param."))
    return frame.sort_values(params, kind="stable").reset_index(drop=True)


@pytest.mark.slow
@pytest.mark.parametrize(("how", "cut_state"), [(signal.SIGKILL, False), (signal.SIGKILL, True), (signal.SIGINT, False)],
                         ids=["kill_9", "kill_9_state_cut_short", "ctrl_c"])
def test_kill_then_resume_trains_nothing_twice_and_ends_like_an_uninterrupted_search(tmp_path: Path, how: signal.Signals,
                                                                                      cut_state: bool) -> None:
    started = time.perf_counter()
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    _search(straight)
    straight_s = time.perf_counter() - started

    at_kill = _kill_in_first_predicted_trial(killed, how)
    before_kill = read_events(killed)[:at_kill]
    if cut_state:
        (state,) = (killed / "ray" / "search").glob("experiment_state-*.json")
        state.write_bytes(state.read_bytes()[: state.stat().st_size // 2])
    resumed = _search(killed, "--resume")
    assert "resuming" in resumed.stdout
    assert ("cut short by a kill while Ray wrote it" in resumed.stdout) == cut_state
    after_kill = read_events(killed)[at_kill:]

    finished = {key for key, epoch in _trained(before_kill) if epoch == EPOCHS}
    interrupted = {key for key, _ in _trained(before_kill)} - finished
    assert len(finished) == ROUND_ZERO and len(interrupted) == 1, _trained(before_kill)
    retrained = {key for key, _ in _trained(after_kill)} & finished
    assert not retrained, f"{len(retrained)} finished trial(s) trained again after --resume"
    resumed_at = [e["epoch"] for e in after_kill if e["event"] == "start" and e["key"] in interrupted]
    assert resumed_at == [2], f"the interrupted trial restarted at epoch(s) {resumed_at}, not from its epoch-1 checkpoint"
    epochs = Counter(_trained(before_kill) + _trained(after_kill))
    assert max(epochs.values()) == 1, "an epoch was trained and reported twice"
    assert sum(epochs.values()) == len(_trained(read_events(straight))) == 6 * EPOCHS

    table, reference = pd.read_csv(killed / "trials.csv"), pd.read_csv(straight / "trials.csv")
    assert len(table) == 6 and set(table["status"]) == {"ok"} and set(table["epochs"]) == {EPOCHS}
    assert table["predicted"].notna().sum() == 3, "round 1 was chosen by the predictor"
    pd.testing.assert_frame_equal(_comparable(table), _comparable(reference))
    assert (killed / "best_recipe.yaml").read_text() == (straight / "best_recipe.yaml").read_text()
    print(f"\nkill/resume: {len(_trained(before_kill))} epochs trained before the kill ({len(finished)} trials finished), "
          f"{len(_trained(after_kill))} after --resume, {sum(epochs.values())} in all = uninterrupted; "
          f"uninterrupted search {straight_s:.0f} s, killed + resumed {time.perf_counter() - started - straight_s:.0f} s")
