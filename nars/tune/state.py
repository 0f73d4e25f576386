"""A snapshot of Ray Tune's experiment state, so that a search killed while Ray writes that state still resumes.

Ray 2.60 writes `experiment_state-*.json` and the searcher's state in place, first into the driver's staging folder
and then copied to the storage; neither write is atomic. A kill during the copy leaves a truncated state file, and
`Tuner.restore` then starts the experiment over ("Failed to restore the run state"), forgetting finished trials
while the restored searcher still counts them. Ray writes the staging copy in the driver's thread
right before it calls the callbacks' `on_step_end`, so at that moment the staging files are one consistent set:
`StateSnapshot` keeps that set as one file, written atomically, and `recover_experiment_state` puts it back on
`--resume` when a state file in the storage cannot be read. Local storage only (a path or a file:// URI).
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

from ray.tune import Callback
from ray.tune.callback import CallbackList
from ray.tune.execution.tune_controller import TuneController
from ray.tune.search import Searcher, SearchGenerator

from core.atomic import atomic_open, atomic_write_text
from core.errors import UserError

STATE_PATTERNS = tuple(template.format("*") for template in (
    TuneController.CKPT_FILE_TMPL, SearchGenerator.CKPT_FILE_TMPL, Searcher.CKPT_FILE_TMPL, CallbackList.CKPT_FILE_TMPL))
"""What Tune's experiment checkpoint writes: trial states, the search generator's and the searcher's state, callbacks'."""


def state_files(experiment: Path) -> list[Path]:
    """The experiment-state files in `experiment` (Tune's storage or staging folder of one experiment)."""
    return sorted({path for pattern in STATE_PATTERNS for path in experiment.glob(pattern) if path.is_file()})


def readable(path: Path) -> bool:
    """Whether a state file is whole: a pickle ends with its STOP opcode (a file cut short does not), JSON parses.

    Names do not tell the format: Ray pickles `search_gen_state-*.json`, and our searchers save JSON as `searcher-state-*.pkl`.
    """
    data = path.read_bytes()
    if data.startswith(b"\x80"):  # the PROTO opcode that starts every pickle of protocol 2 or later
        return data.endswith(b".")
    try:
        json.loads(data)
    except ValueError:
        return False
    return True


class StateSnapshot(Callback):
    """After each experiment checkpoint, keep Tune's staging state files as one atomically written JSON file."""

    def __init__(self, snapshot: Path) -> None:
        self.snapshot = Path(snapshot)
        self._saved: tuple[int, ...] | None = None

    def on_step_end(self, iteration: int, trials: list[Any], **info: Any) -> None:
        self._save(trials)

    def on_experiment_end(self, trials: list[Any], **info: Any) -> None:
        self._save(trials)  # Ray's last, forced checkpoint comes after the last step

    def _save(self, trials: list[Any]) -> None:
        if not trials:
            return
        files = state_files(Path(trials[0].local_experiment_path))  # Ray's driver staging folder
        stamp = tuple(path.stat().st_mtime_ns for path in files)
        if not files or stamp == self._saved:
            return  # no experiment checkpoint since the last snapshot
        saved = {"time": time.strftime("%Y-%m-%d %H:%M:%S"), "files": {p.name: base64.b64encode(p.read_bytes()).decode() for p in files}}
        atomic_write_text(self.snapshot, json.dumps(saved))
        self._saved = stamp


def recover_experiment_state(experiment: Path, snapshot: Path) -> str | None:
    """Replace an unreadable experiment state in `experiment` by `snapshot`; what was done, or None when all was whole.

    Every state file is replaced, not only the broken one: a newer searcher state next to an older trial state
    would count trials Tune no longer knows. Trials that ended after the snapshot continue from their checkpoints.
    """
    current = state_files(experiment)
    broken = [path.name for path in current if not readable(path)]
    if not broken:
        return None
    if not snapshot.is_file():
        raise UserError(f"{experiment / broken[0]} is cut short (the search was killed while Ray wrote it) and this search has "
                        f"no snapshot of its state ({snapshot.name}); start it again into a new --output")
    saved = json.loads(snapshot.read_text())
    for path in current:
        path.unlink()
    for name, data in saved["files"].items():
        with atomic_open(experiment / name, "wb") as handle:
            handle.write(base64.b64decode(data))
    return f"{', '.join(broken)} cut short by a kill while Ray wrote it: resuming from the state snapshot of {saved['time']}"
