"""What a recipe measured once trained for real: the answer to "how good is the winner", read from
`detector.evaluate`'s report (`eval_<split>.json`) or a `detector.train` run folder.

A search's trials measure the proxy budget; the winner's final training (and, when the user trained it, the
default recipe's) is a different budget, so the report shows those figures beside the trials', never mixed in.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from core.errors import DataError
from core.jsonl import read_jsonl
from detector.training.run_folder import METRICS
from nars.records import run_folder

SPLIT_ORDER = ("test", "val")
"""Reports in a run folder, most telling first: a held-out test split never chose anything."""


@dataclass(frozen=True)
class Trained:
    """A trained recipe's accuracy: `value` (percent) on `split`, from `source`."""

    value: float
    split: str
    source: Path
    images: int | None = None
    epochs: int | None = None

    def describe(self) -> str:
        """How it was measured: 'val split, 16 images, after 24 epochs of training (eval_val.json)'."""
        images = f", {self.images} images" if self.images else ""
        epochs = f", after {self.epochs} epochs of training" if self.epochs else ""
        return f"{self.split} split{images}{epochs} ({self.source.name})"

    def measured_like(self, other: Trained) -> bool:
        """Same split after the same epochs: the two figures compare."""
        return (self.split, self.epochs) == (other.split, other.epochs)

    @property
    def optimistic(self) -> bool:
        """Measured on the validation images, which also ranked the search's trials (and so chose the winner)."""
        return self.split == "val"


def final_folder(run: Path) -> Path:
    """Where the search's closing hint trains the winner, and where the report looks for it by default."""
    return run / run_folder.FINAL


def default_folder(run: Path) -> Path:
    """Where the search's closing hint trains the default recipe (`default_recipe.yaml`), and where the report looks."""
    return run / run_folder.DEFAULT


def read_trained(path: str | Path, metric: str) -> Trained:
    """The accuracy of a trained recipe at `path`: an `eval_<split>.json` file, or a training run folder (its
    `eval_test.json`, else `eval_val.json`, else the last epoch its `metrics.jsonl` evaluated)."""
    path = Path(path)
    if path.is_file():
        return _from_report(path, metric)
    if not path.is_dir():
        raise DataError(f"no trained run or evaluation report at {path}")
    reports = {_split_of(p): p for p in sorted(path.glob("eval_*.json"))}
    for split in (*SPLIT_ORDER, *sorted(set(reports) - set(SPLIT_ORDER))):
        if split in reports:
            return _from_report(reports[split], metric)
    evaluated = [r for r in read_jsonl(path / METRICS) if _number(r.get(metric)) is not None]
    if not evaluated:
        raise DataError(f"{path} holds no eval_*.json and no evaluated epoch in {METRICS} (still training, or trained without "
                        "validation data: python -m detector.evaluate measures it)")
    last = evaluated[-1]
    return Trained(float(last[metric]), "val", path / METRICS, epochs=last.get("epoch"))


def _from_report(path: Path, metric: str) -> Trained:
    try:
        report = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: not a readable evaluation report ({exc})") from None
    value = _number(report.get(metric)) if isinstance(report, dict) else None
    if value is None:
        raise DataError(f"{path}: no {metric} in it (not a report of python -m detector.evaluate)")
    checkpoint = Path(report.get("checkpoint") or path)
    epochs = [r.get("epoch") for r in read_jsonl(checkpoint.parent / METRICS)]
    return Trained(value, str(report.get("split") or _split_of(path)), path, report.get("num_images"),
                   max((e for e in epochs if isinstance(e, int)), default=None))


def _split_of(path: Path) -> str:
    return path.stem.removeprefix("eval_")


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) else None
