"""Resuming a training run: which checkpoint to continue from, and whether the config still fits it.

A resumed run must keep its config; only `train.epochs` may grow (the schedule stretches to it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.atomic import remove_stale_temporaries
from core.errors import CheckpointError, ConfigError
from detector.config import DetectorConfig, config_to_dict
from detector.training.checkpoint import load_checkpoint
from detector.training.run_folder import FINAL, LAST

INITIALISATION = ("model.weights", "model.weights_fit")
"""Config fields that only say how a fresh run starts: a resumed run takes its weights from its checkpoint."""


def _diff_configs(old: Any, new: Any, prefix: str = "") -> list[tuple[str, Any, Any]]:
    """(dotted key, old, new) for every leaf that differs."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in list(old) + [k for k in new if k not in old]:
            out += _diff_configs(old.get(key), new.get(key), f"{prefix}{key}.")
        return out
    return [] if old == new else [(prefix.rstrip("."), old, new)]


def check_resume_config(saved: dict[str, Any], config: DetectorConfig, output_dir: Path) -> None:
    """A resumed run must keep its config; only `train.epochs` may grow (the schedule stretches to it).

    `model.weights` and `model.weights_fit` are ignored: they only initialise a fresh run, the checkpoint holds the weights.
    """
    diffs = [d for d in _diff_configs(saved, config_to_dict(config)) if d[0] not in INITIALISATION]
    others = [d for d in diffs if d[0] != "train.epochs"]
    if others:
        listed = ", ".join(f"{key} {old!r} -> {new!r}" for key, old, new in others[:5])
        more = f" (+{len(others) - 5} more)" if len(others) > 5 else ""
        raise ConfigError(
            f"cannot resume {output_dir} with a different config: {listed}{more}; only train.epochs may be "
            f"increased on resume (start a new --output for other changes)"
        )
    for _, old, new in diffs:
        if new < old:
            raise ConfigError(
                f"train.epochs: {new} is less than the {old} of the run being resumed in {output_dir}; "
                f"a resumed run may only increase train.epochs"
            )


def checkpoint_to_resume(output_dir: Path, config: DetectorConfig, resume: bool, main: bool) -> dict[str, Any] | None:
    """`last.pt` of `output_dir` when resuming (its config checked against `config`); None for a fresh run,
    which must not overwrite an earlier one. The main process first clears temporaries of killed writes."""
    if main:  # a checkpoint write killed in an earlier run left its temporary file: nobody writes here yet
        remove_stale_temporaries(output_dir)
    if not resume:
        existing = [name for name in (LAST, FINAL) if (output_dir / name).exists()]
        if existing:
            raise CheckpointError(
                f"{output_dir} already holds a training run ({', '.join(existing)}); pass --resume "
                "to continue it, or choose another output folder"
            )
        return None
    last = output_dir / LAST
    if not last.is_file():
        raise CheckpointError(f"nothing to resume: {last} not found (start without --resume)")
    checkpoint = load_checkpoint(last)
    check_resume_config(checkpoint["config"], config, output_dir)
    return checkpoint
