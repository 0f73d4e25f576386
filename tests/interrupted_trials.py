"""The real detector trial (`nars.trainable.run_trial`), watched and interrupted, for the fast resume tests.

Ray workers import this module by name (`tests/` on their PYTHONPATH, as for `search_trials`). Both trials below
run the real trial; their Tune reporter (a subclass of `nars.trainable.TuneReporter`) logs to the run's
`events.jsonl` (`search_trials.log_event`) which epoch each attempt of a trial trains and when its report is done:

* `crash_once_trial`: the first attempt of every trial raises right after reporting (and checkpointing) epoch 1,
  as a crash or a lost worker would; with `search.max_failures=1` Ray retries it from that checkpoint;
* `pausing_trial`: the first attempt of the second trial to start waits after reporting epoch 1 (a `paused`
  event), so that a test interrupts the search at a known point, in the middle of that trial.

An `end` event is logged after `tune.report` returns. Tune's function trainables report synchronously (Ray 2.60:
`synchronous_result_reporting=True`): `report` returns only when the driver asks for the next result, which it does
after it has processed this one and registered its checkpoint (`TuneController._process_trial_save`). So an `end`
event means the driver holds that epoch's checkpoint: an interruption after it must resume from it.

    python -c "$DRIVER" crash_once|pausing <nars.search arguments>
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import nars.trainable
from nars.trainable import TuneReporter, run_trial
from search_trials import log_event, read_events, start_order

DRIVER = "import sys, interrupted_trials; interrupted_trials.drive(sys.argv[1], sys.argv[2:])"
PAUSE_S = 300.0  # the longest a paused trial waits for the test to interrupt the search


def _attempt(work_dir: str, trial_id: str) -> int:
    """1 on a trial's first start, 2 on its retry (counted from its own `start` events)."""
    return 1 + sum(1 for e in read_events(Path(work_dir).parent) if e["trial_id"] == trial_id and e["event"] == "start")


def _run_watched(config: dict[str, Any], work_dir: str, fault: str, **kwargs: Any) -> None:
    from ray import tune

    attempt = _attempt(work_dir, tune.get_context().get_trial_id())
    interrupt = attempt == 1 and (fault == "crash" or start_order(work_dir) == 1)
    log_event(work_dir, event="start", attempt=attempt)

    class WatchedReporter(TuneReporter):
        def on_epoch_start(self, epoch: int, iterations: int) -> None:
            log_event(work_dir, event="train", epoch=epoch, attempt=attempt)

        def on_epoch_end(self, epoch: int, metrics: dict[str, Any], checkpoint_path: Path) -> None:
            super().on_epoch_end(epoch, metrics, checkpoint_path)
            log_event(work_dir, event="end", epoch=epoch, attempt=attempt)
            if interrupt and epoch == 1 and fault == "crash":
                raise RuntimeError("injected: the trial crashed after epoch 1")
            if interrupt and epoch == 1 and fault == "pause":
                log_event(work_dir, event="paused", epoch=epoch, attempt=attempt)
                time.sleep(PAUSE_S)  # ended by the interruption: Ray stops the trial's worker

    nars.trainable.TuneReporter = WatchedReporter  # `run_trial` builds its reporter by this module-level name
    try:
        run_trial(config, work_dir=work_dir, **kwargs)
    finally:
        nars.trainable.TuneReporter = TuneReporter


def crash_once_trial(config: dict[str, Any], *, work_dir: str, **kwargs: Any) -> None:
    _run_watched(config, work_dir, "crash", **kwargs)


def pausing_trial(config: dict[str, Any], *, work_dir: str, **kwargs: Any) -> None:
    _run_watched(config, work_dir, "pause", **kwargs)


TRIALS = {"crash_once": crash_once_trial, "pausing": pausing_trial}


def drive(kind: str, argv: list[str]) -> None:
    """`nars.search` with the trial `TRIALS[kind]`."""
    from nars.search import main

    main(argv, trial_fn=TRIALS[kind])


def search_command(kind: str, output: Path, overrides: list[str], *flags: str) -> list[str]:
    """`nars.search` on the quickstart experiment with `TRIALS[kind]` and `overrides`."""
    from _tiny import REPO

    return [sys.executable, "-c", DRIVER, kind, "--config", str(REPO / "experiments" / "quickstart_search.yaml"),
            "--output", str(output), *flags, "--set", *overrides]
