"""The real detector trial (`nars.tune.trainable.run_trial`), crashed and paused at known points, for the fast
resume test.

Ray workers import this module by name (`tests/` on their PYTHONPATH, as for `search_trials`). `interrupted_trial`
runs the real trial; its Tune reporter (a subclass of `nars.tune.trainable.TuneReporter`) logs to the run's
`events.jsonl` (`search_trials.log_event`) which epoch each attempt of a trial trains and when its report is done.
On their first attempt, right after reporting (and checkpointing) epoch 1:

* the first trial to start raises, as a crash or a lost worker would; with `search.max_failures=1` Ray retries it
  from that checkpoint;
* the second one waits (a `paused` event), so that a test interrupts the search at a known point, mid-trial.

An `end` event is logged after `tune.report` returns. Tune's function trainables report synchronously (Ray 2.60:
`synchronous_result_reporting=True`): `report` returns only when the driver asks for the next result, which it does
after it has processed this one and registered its checkpoint (`TuneController._process_trial_save`). So an `end`
event means the driver holds that epoch's checkpoint: an interruption after it must resume from it.

    python -c "$DRIVER" <nars.search arguments>
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import nars.tune.trainable
from helpers.search_trials import log_event, read_events, start_order
from nars.trial.spec import TrialSpec
from nars.tune.trainable import TuneReporter, run_trial

DRIVER = "import sys; from helpers import interrupted_trials; interrupted_trials.drive(sys.argv[1:])"
PAUSE_S = 300.0  # the longest a paused trial waits for the test to interrupt the search


def _attempt(work_dir: str, trial_id: str) -> int:
    """1 on a trial's first start, 2 on its retry (counted from its own `start` events)."""
    return 1 + sum(1 for e in read_events(Path(work_dir).parent) if e["trial_id"] == trial_id and e["event"] == "start")


def interrupted_trial(config: dict[str, Any], *, spec: TrialSpec) -> None:
    """`run_trial`, crashed (first trial) or paused (second trial) after epoch 1 on its first attempt."""
    from ray import tune

    work_dir = spec.work_dir
    attempt = _attempt(work_dir, tune.get_context().get_trial_id())
    fault = {0: "crash", 1: "pause"}.get(start_order(work_dir)) if attempt == 1 else None
    log_event(work_dir, event="start", attempt=attempt)

    class WatchedReporter(TuneReporter):
        def on_epoch_start(self, epoch: int, iterations: int) -> None:
            log_event(work_dir, event="train", epoch=epoch, attempt=attempt)

        def on_epoch_end(self, epoch: int, metrics: dict[str, Any], checkpoint_path: Path) -> None:
            super().on_epoch_end(epoch, metrics, checkpoint_path)
            log_event(work_dir, event="end", epoch=epoch, attempt=attempt)
            if epoch == 1 and fault == "crash":
                raise RuntimeError("injected: the trial crashed after epoch 1")
            if epoch == 1 and fault == "pause":
                log_event(work_dir, event="paused", epoch=epoch, attempt=attempt)
                time.sleep(PAUSE_S)  # ended by the interruption: Ray stops the trial's worker

    nars.tune.trainable.TuneReporter = WatchedReporter  # `run_trial` builds its reporter by this module-level name
    try:
        run_trial(config, spec=spec)
    finally:
        nars.tune.trainable.TuneReporter = TuneReporter


def drive(argv: list[str]) -> None:
    """`nars.search` with `interrupted_trial`."""
    from nars.search import main

    main(argv, trial_fn=interrupted_trial)


def search_command(output: Path, overrides: list[str], *flags: str) -> list[str]:
    """`nars.search` on the quickstart experiment with `interrupted_trial` and `overrides`."""
    from helpers.tiny import REPO

    return [sys.executable, "-c", DRIVER, "--config", str(REPO / "experiments" / "quickstart_search.yaml"),
            "--output", str(output), *flags, "--set", *overrides]
