"""Stand-in trials for the search-level reliability tests, and a `nars.search` driver that uses them.

Ray workers import this module by name (put `tests/` on their PYTHONPATH). The trials take the `spec`
of `nars.tune.trainable.run_trial` (bound by `nars.tune.runner.run_tune`) and log what they do, one JSON
line per event, to `events.jsonl` in the run folder (the parent of `work_dir`):

* `toy_trial`: a deterministic objective of the point, `TOY_EPOCH_S` seconds per epoch, a checkpoint per
  epoch (resumed from like the real trial's); it logs `training` as an epoch starts and `epoch` once it is
  reported, when the driver holds its checkpoint (see `toy_trial`);
* `paired_toy_trial`: `toy_trial` with the first two trials running side by side (on a cluster: on two nodes);
* `faulty_trial`: the real `run_trial`, with the fault `FAULTS[i]` injected into the i-th trial to start.

    python -c "$DRIVER" toy|paired_toy|faulty <nars.search arguments>

runs the real `nars.search` CLI with one of them (`DRIVER` below).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ray
from ray import tune

from helpers.tiny import CLI_ENV, REPO
from nars.trial.keys import point_of
from nars.trial.spec import TrialSpec
from nars.tune.trainable import run_trial
from search_spaces.point import point_key

EVENTS = "events.jsonl"
START_ORDER = "start_order"
TOY_EPOCH_S = 1.0
PAIRING_TIMEOUT_S = 120.0
FAULTS = ("ok", "raise", "nan", "exit", "flaky", "ok")  # fault of the i-th trial to start
DRIVER = "import sys; from helpers import search_trials; search_trials.drive(sys.argv[1], sys.argv[2:])"


def log_event(work_dir: str, **event: Any) -> None:
    """Append one event line (trial id, node, ...) to the run's events file; one write, so lines never interleave."""
    record = {"trial_id": tune.get_context().get_trial_id(), "node": ray.get_runtime_context().get_node_id(), "time": time.time(), **event}
    with open(Path(work_dir).parent / EVENTS, "a") as handle:
        handle.write(json.dumps(record) + "\n")


def read_events(run: Path) -> list[dict[str, Any]]:
    path = run / EVENTS
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def toy_ap(point: dict[str, Any]) -> float:
    """A deterministic 'accuracy' of a point in [0, 100)."""
    return zlib.crc32(point_key(point).encode()) % 10_000 / 100


def toy_trial(config: dict[str, Any], *, spec: TrialSpec) -> None:
    """Report `toy_ap` growing linearly over `proxy_epochs` epochs, checkpointing the epoch after each.

    Events: `start` (the epoch it starts or resumes at), `training` N as epoch N starts, `epoch` N once N is reported.
    `tune.report` of a function trainable returns only after the driver has processed the result and registered its
    checkpoint (Ray 2.60: a function trainable reports synchronously, `synchronous_result_reporting=True`, and the
    driver asks for the next result, which releases `report`, only after `_process_trial_save` recorded the
    checkpoint). So `epoch` N means the driver holds epoch N's checkpoint, and `training` N + 1 that the trial is in
    epoch N + 1 with that checkpoint recorded: a test can stop a node or the search there without waiting and guessing.
    """
    point, proxy_epochs, work_dir = point_of(config), spec.proxy_epochs, spec.work_dir
    checkpoint = tune.get_checkpoint()
    start = 1
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            start = int((Path(folder) / "epoch").read_text()) + 1
    key = point_key(point)
    log_event(work_dir, event="start", key=key, epoch=start)
    for epoch in range(start, proxy_epochs + 1):
        log_event(work_dir, event="training", key=key, epoch=epoch)
        time.sleep(TOY_EPOCH_S)
        with tempfile.TemporaryDirectory() as folder:
            (Path(folder) / "epoch").write_text(str(epoch))
            tune.report({"epoch": epoch, "ap": toy_ap(point) * epoch / proxy_epochs}, checkpoint=tune.Checkpoint.from_directory(folder))
        log_event(work_dir, event="epoch", key=key, epoch=epoch)


def start_order(work_dir: str) -> int:
    """The order in which this trial first started (0, 1, ...), the same when Ray retries it; kept in
    `<run>/start_order/<trial id>`."""
    folder = Path(work_dir).parent / START_ORDER
    folder.mkdir(parents=True, exist_ok=True)
    mine = folder / tune.get_context().get_trial_id()
    if mine.is_file():
        return int(mine.read_text())
    index = 0
    while True:
        try:
            os.close(os.open(folder / f"claimed_{index}", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            break
        except FileExistsError:
            index += 1
    mine.write_text(str(index))
    return index


def faulty_trial(config: dict[str, Any], *, spec: TrialSpec) -> None:
    """`run_trial` with `FAULTS[i]` for the i-th trial: an exception, a NaN loss (a NaN pixel mean: the engine's
    NaN guard raises), the worker process dying (`os._exit`), or an exception on the first attempt only."""
    work_dir = spec.work_dir
    fault = FAULTS[start_order(work_dir)]
    attempts = sum(1 for e in _own_events(work_dir) if e["event"] == "start")
    log_event(work_dir, event="start", fault=fault, attempt=attempts + 1)
    if fault == "raise":
        raise RuntimeError("boom: injected fault")
    if fault == "exit":
        os._exit(1)
    if fault == "flaky" and attempts == 0:
        raise RuntimeError("transient: injected fault, first attempt only")
    if fault == "nan":
        base = spec.space_spec["base"]
        model = {**base.get("model", {}), "pixel_mean": [math.nan] * 3}
        spec = dataclasses.replace(spec, space_spec={**spec.space_spec, "base": {**base, "model": model}})
    run_trial(config, spec=spec)


def _own_events(work_dir: str) -> list[dict[str, Any]]:
    trial_id = tune.get_context().get_trial_id()
    return [e for e in read_events(Path(work_dir).parent) if e["trial_id"] == trial_id]


def paired_toy_trial(config: dict[str, Any], *, spec: TrialSpec) -> None:
    """`toy_trial`, but the first trial waits (up to `PAIRING_TIMEOUT_S`) until a second one has started, so that
    two trials run side by side (with actor reuse, a short first trial would otherwise hand its worker process to
    the next trial before a worker elsewhere has started)."""
    if start_order(spec.work_dir) == 0:
        deadline = time.monotonic() + PAIRING_TIMEOUT_S
        while not (Path(spec.work_dir).parent / START_ORDER / "claimed_1").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
    toy_trial(config, spec=spec)


TRIALS = {"toy": toy_trial, "paired_toy": paired_toy_trial, "faulty": faulty_trial}


def drive(kind: str, argv: list[str]) -> None:
    """`nars.search` with the trial `TRIALS[kind]` (see the module docstring)."""
    from nars.search import main

    main(argv, trial_fn=TRIALS[kind])


# ---------------------------------------------------------------------- running the driver from a test


ENV = {**CLI_ENV, "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'tests'}"}  # workers import this module by name
# a small search: 6 trials in 2 rounds (the second one predicted), `--set` overrides of the quickstart experiment
SMALL_SEARCH = [
    "constraints=[]", "search.num_samples=6", "search.initial_points=3", "search.round_size=3", "search.predictor.pretrain_points=8",
    "search.evolution={population: 8, generations: 2, children_per_generation: 16}",
]


def search_command(kind: str, output: Path, overrides: list[str], *flags: str) -> list[str]:
    """`nars.search` on the quickstart experiment with the stand-in trial `kind` (see `TRIALS`)."""
    return [sys.executable, "-c", DRIVER, kind, "--config", str(REPO / "experiments" / "quickstart_search.yaml"),
            "--output", str(output), *flags, "--set", *SMALL_SEARCH, *overrides]


@contextlib.contextmanager
def search_process(command: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A search started in a session of its own (its output in `log`), to be signalled while it runs; on the way out
    it, and the Ray helper processes it leaves in its session, are killed."""
    with open(log, "w") as handle:
        proc = subprocess.Popen(command, cwd=REPO, env=ENV, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
