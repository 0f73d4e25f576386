"""The built-in hooks of the training loop (`detector.training.loop.TrainCallback`, detectron2's hook pattern),
which do its side jobs: the metrics log, the run's state files, the curves figure, TensorBoard and the console.

`detector.training.engine.train` runs `MetricsLog`, `Checkpointer`, `CurvesPlot`, `TensorBoardLog` and, with
`progress`, `ConsoleProgress`, then the caller's callbacks (a search trial adds its Ray Tune reporter),
in that order, on the main process only. A callback may raise `StopTraining` in `on_epoch_end` to end
training cleanly after that epoch::

    class MyCallback(TrainCallback):
        def on_epoch_end(self, epoch: int, metrics: dict, checkpoint_path: Path) -> None:
            ...                      # epoch counts from 1; last.pt is already written
            raise StopTraining()     # optional: end training cleanly after this epoch
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from core.atomic import atomic_write_text
from detector.config import dump_config
from detector.evaluation.metric_names import METRIC_KEYS
from detector.training.checkpoint import save_checkpoint
from detector.training.curves import plot_curves
from detector.training.loop import TrainCallback
from detector.training.run_folder import CONFIG, CURVES, FINAL, LAST, METRICS, TENSORBOARD

if TYPE_CHECKING:
    from detector.training.loop import Trainer, TrainResult

log = logging.getLogger(__name__)

TB_LOG_EVERY = 20  # iterations between TensorBoard loss/lr points


class MetricsLog(TrainCallback):
    """`metrics.jsonl`: one JSON line per epoch, appended as it ends; on resume, rewritten with the epochs
    `last.pt` holds (a line of an epoch after it, from a kill, is dropped)."""

    def __init__(self, output_dir: Path) -> None:
        self.path = output_dir / METRICS

    def on_train_start(self, trainer: Trainer) -> None:
        atomic_write_text(self.path, "".join(json.dumps(r) + "\n" for r in trainer.history))

    def on_epoch_end(self, epoch: int, metrics: dict[str, Any], checkpoint_path: Path) -> None:
        with open(self.path, "a") as handle:
            handle.write(json.dumps(metrics) + "\n")
            handle.flush()


class Checkpointer(TrainCallback):
    """The run's state files: `config.yaml` at the start, `last.pt` after every epoch (everything for an
    exact resume), `model_final.pt` at the end (weights only); each written atomically."""

    def __init__(self, output_dir: Path) -> None:
        self.output_dir = output_dir
        self.trainer: Trainer | None = None

    def on_train_start(self, trainer: Trainer) -> None:
        self.trainer = trainer
        dump_config(trainer.config, self.output_dir / CONFIG)

    def on_epoch_end(self, epoch: int, metrics: dict[str, Any], checkpoint_path: Path) -> None:
        assert self.trainer is not None
        save_checkpoint({**self.trainer.resume_state(), "epoch": epoch, "metrics": metrics}, self.output_dir / LAST)

    def on_train_end(self, result: TrainResult) -> None:
        assert self.trainer is not None
        self.save_final(self.trainer, result.epochs_completed, result.metrics)

    def save_final(self, trainer: Trainer, epoch: int, metrics: dict[str, Any]) -> None:
        """`model_final.pt`; also for a complete run that was killed between `last.pt` and this file."""
        save_checkpoint({**trainer.weights_state(), "epoch": epoch, "metrics": metrics}, self.output_dir / FINAL)


class CurvesPlot(TrainCallback):
    """`curves.png`: loss and validation AP per epoch, drawn at the end of the run."""

    def __init__(self, output_dir: Path) -> None:
        self.output_dir = output_dir

    def on_train_end(self, result: TrainResult) -> None:
        plot_curves(result.history, self.output_dir / CURVES, title=f"FBNetV3OD training: {self.output_dir.name}")


class TensorBoardLog(TrainCallback):
    """TensorBoard events in `tb/` when torch's TensorBoard support (or tensorboardX) is installed: loss and
    lr every `TB_LOG_EVERY` steps, every number of the epoch's record per epoch."""

    def __init__(self, output_dir: Path) -> None:
        self.log_dir = output_dir / TENSORBOARD
        self.writer: Any = None

    def on_train_start(self, trainer: Trainer) -> None:
        self.writer = _open_tensorboard(self.log_dir)

    def on_step_end(self, step: int, iteration: int, loss: float, lr: float) -> None:
        if self.writer is not None and step % TB_LOG_EVERY == 0:
            self.writer.add_scalar("train/loss", loss, step)
            self.writer.add_scalar("train/lr", lr, step)

    def on_epoch_end(self, epoch: int, metrics: dict[str, Any], checkpoint_path: Path) -> None:
        if self.writer is None:
            return
        for key, value in metrics.items():
            if isinstance(value, (int, float)) and key not in ("epoch", "global_step"):
                self.writer.add_scalar(f"epoch/{key}", value, epoch)
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _open_tensorboard(log_dir: Path) -> Any:
    """A SummaryWriter when torch's TensorBoard support (or tensorboardX) is installed, else None."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        try:
            from tensorboardX import SummaryWriter  # type: ignore[no-redef]
        except ImportError:
            return None
    try:
        return SummaryWriter(log_dir=str(log_dir))
    except Exception as exc:  # optional logging must never break training
        log.warning("TensorBoard logging disabled: %s", exc)
        return None


class ConsoleProgress(TrainCallback):
    """What a person watching sees: where a resumed run continues, a tqdm bar per epoch, one line per epoch,
    and the per-epoch table at the end."""

    def __init__(self) -> None:
        self.epochs = 0
        self.bar: tqdm | None = None

    def on_train_start(self, trainer: Trainer) -> None:
        self.epochs = trainer.epochs
        if trainer.start_epoch > 0:
            print(f"resuming {trainer.output_dir} at epoch {trainer.start_epoch + 1}/{self.epochs} (step {trainer.global_step})")

    def on_epoch_start(self, epoch: int, iterations: int) -> None:
        self.bar = tqdm(total=iterations, desc=f"epoch {epoch}/{self.epochs}", dynamic_ncols=True)

    def on_step_end(self, step: int, iteration: int, loss: float, lr: float) -> None:
        if self.bar is None:
            return
        self.bar.set_postfix(loss=f"{loss:.3f}", lr=f"{lr:.2e}", refresh=False)
        self.bar.update()
        if iteration == self.bar.total:
            self.bar.close()
            self.bar = None

    def on_epoch_end(self, epoch: int, metrics: dict[str, Any], checkpoint_path: Path) -> None:
        shown = ", ".join(f"{k} {metrics[k]:.2f}" for k in METRIC_KEYS[:3] if metrics.get(k) is not None)
        tqdm.write(f"epoch {epoch}: loss {metrics['loss']:.4f}" + (f", {shown}" if shown else ""))

    def on_train_end(self, result: TrainResult) -> None:
        if result.stopped_early:
            print(f"stopped by a callback after epoch {result.epochs_completed}/{self.epochs}")
        print(format_history(result.history))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def format_history(history: list[dict[str, Any]]) -> str:
    """Per-epoch summary table (epoch, loss, lr, time, images/s, AP, AP50)."""
    head = f"{'epoch':>5}  {'loss':>8}  {'lr':>9}  {'time s':>7}  {'img/s':>7}  {'AP':>6}  {'AP50':>6}"
    lines = [head]
    for r in history:
        ap = "" if r.get("ap") is None else f"{r['ap']:.2f}"
        ap50 = "" if r.get("ap50") is None else f"{r['ap50']:.2f}"
        lines.append(
            f"{r['epoch']:>5}  {r['loss']:>8.4f}  {r['lr']:>9.2e}  {r['epoch_time_s']:>7.1f}  "
            f"{r['images_per_s']:>7.1f}  {ap:>6}  {ap50:>6}"
        )
    return "\n".join(lines)
