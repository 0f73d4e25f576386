"""Interrupted Tune runs: the experiment state, cut short by a kill while Ray writes it, is put back from the snapshot
(`nars.tune.state`); a Ctrl-C before Tune can stop gracefully stops at once (`nars.tune.runner.tune_interrupt`); a resumed run's progress lines go on from the trials it restored."""

from __future__ import annotations

import json
import os
import pickle
import signal
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from core.errors import UserError
from nars.tune.runner import trial_logger, tune_interrupt
from nars.tune.state import StateSnapshot, readable, recover_experiment_state, state_files

SESSION = "2026-12-06_03-53-38"


def write_state(folder: Path, trials: list[str], session: str = SESSION) -> None:
    """The files of one Tune experiment checkpoint (their contents stand in for Ray's)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"experiment_state-{session}.json").write_text(json.dumps({"trial_data": trials}))
    (folder / f"search_gen_state-{session}.json").write_bytes(pickle.dumps({"counter": len(trials)}))  # Ray pickles it
    (folder / f"searcher-state-{session}.pkl").write_text(json.dumps({"suggested": trials}))  # as our searchers save it
    (folder / "tuner.pkl").write_bytes(pickle.dumps("the Tuner, not experiment state"))


def test_readable_tells_whole_files_from_cut_ones(tmp_path):
    write_state(tmp_path, ["a", "b"])
    assert [p.name for p in state_files(tmp_path)] == [f"experiment_state-{SESSION}.json", f"search_gen_state-{SESSION}.json",
                                                       f"searcher-state-{SESSION}.pkl"]
    assert all(readable(p) for p in state_files(tmp_path))
    for path in state_files(tmp_path):
        path.write_bytes(path.read_bytes()[:-3])
        assert not readable(path), path.name
        path.write_bytes(b"")
        assert not readable(path), path.name


def test_a_cut_state_is_replaced_by_the_last_snapshot_and_a_whole_one_is_left_alone(tmp_path):
    staging, storage, snapshot = tmp_path / "staging", tmp_path / "storage", tmp_path / "run" / "ray_state_search.json"
    callback = StateSnapshot(snapshot)
    callback.on_step_end(iteration=0, trials=[])  # no trial yet: nothing to keep
    assert not snapshot.exists()
    trial = SimpleNamespace(local_experiment_path=str(staging))
    write_state(staging, ["a", "b"])
    snapshot.parent.mkdir()
    callback.on_step_end(iteration=1, trials=[trial])
    write_state(staging, ["a", "b", "c"])  # Ray's next checkpoint
    callback.on_experiment_end(trials=[trial])

    write_state(storage, ["a", "b", "c"])
    before = {p.name: p.read_bytes() for p in storage.iterdir()}
    assert recover_experiment_state(storage, snapshot) is None
    assert {p.name: p.read_bytes() for p in storage.iterdir()} == before

    write_state(storage, ["a", "b", "c", "d"], session="2026-12-06_04-57-58")  # a later session, killed during Ray's copy
    (storage / "experiment_state-2026-12-06_04-57-58.json").write_bytes(b"")
    note = recover_experiment_state(storage, snapshot)
    assert note.startswith("experiment_state-2026-12-06_04-57-58.json cut short by a kill while Ray wrote it")
    assert {p.name: p.read_bytes() for p in state_files(storage)} == {p.name: p.read_bytes() for p in state_files(staging)}
    assert json.loads((storage / f"experiment_state-{SESSION}.json").read_text())["trial_data"] == ["a", "b", "c"]
    assert (storage / "tuner.pkl").is_file()


def test_a_cut_state_without_a_snapshot_is_a_clear_error(tmp_path):
    write_state(tmp_path, ["a"])
    (tmp_path / f"searcher-state-{SESSION}.pkl").write_bytes(b"\x80\x05")
    with pytest.raises(UserError, match=f"searcher-state-{SESSION}.pkl is cut short .* no snapshot of its state"):
        recover_experiment_state(tmp_path, tmp_path / "ray_state_search.json")


def test_a_ctrl_c_before_tune_sets_up_its_graceful_stop_stops_at_once():
    before, usr1 = signal.getsignal(signal.SIGINT), signal.signal(signal.SIGUSR1, signal.SIG_DFL)  # as before `fit` installs Tune's
    try:
        with pytest.raises(KeyboardInterrupt), tune_interrupt() as interrupted:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
    finally:
        signal.signal(signal.SIGUSR1, usr1)
    assert not interrupted.is_set() and signal.getsignal(signal.SIGINT) is before


def test_progress_lines_of_a_resumed_search_count_the_restored_trials(capsys):
    restored = [SimpleNamespace(trial_id=f"old{i}", is_finished=lambda: True) for i in range(3)]
    finishing = SimpleNamespace(trial_id="new", is_finished=lambda: False, last_result={"ap": 5.214, "flops": 2.8e8, "epoch": 5})
    failing = SimpleNamespace(trial_id="bad", is_finished=lambda: False, last_result=None)
    logger = trial_logger(8, "ap")
    logger.on_trial_complete(0, [*restored, finishing, failing], finishing)
    assert capsys.readouterr().out == "[4/8] trial new done: ap=5.21 flops=0.28G epochs=5\n"
    finishing.is_finished = lambda: True  # Tune marks it after the callbacks
    logger.on_trial_error(1, [*restored, finishing, failing], failing)
    assert capsys.readouterr().out == "[5/8] trial bad FAILED (recorded; the search goes on)\n"
