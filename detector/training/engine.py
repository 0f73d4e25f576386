"""The one training loop of FBNetV3OD, used by `python -m detector.train` and by the search.

`train(config, paths, output_dir)` writes into `output_dir` (through the built-in callbacks of
`detector.training.callbacks`; names in `detector.training.run_folder`):

* `config.yaml`   the resolved config (with `model.num_classes` from the data), for reproduction;
* `metrics.jsonl` one JSON object per epoch: `epoch` (from 1), `global_step`, mean `loss` and its parts
  (`loss_classifier`, `loss_box_reg`, `loss_objectness`, `loss_rpn_box_reg`), `lr` (last iteration's),
  `epoch_time_s`, `images_per_s`; after an evaluation (every `train.eval_every` epochs and always at the
  end) also `ap`, `ap50`, `ap75`, `aps`, `apm`, `apl` (percent; null when undefined) and `per_class_ap`,
  computed on the EMA weights when `train.ema_decay > 0`, with `ap_raw` for the raw weights;
* `last.pt`       everything for exact resume, rewritten atomically after every epoch;
* `model_final.pt` weights (+ EMA weights), config, class names, label map and final metrics;
* `curves.png`    loss and AP per epoch; `tb/` TensorBoard events when TensorBoard is installed.

Exact resume: every epoch starts by re-seeding all RNGs and the data order from `seed + epoch`,
so an interrupted run resumed from `last.pt` takes the same optimizer steps as one that was never
interrupted (bit-identical weights on CPU).

The loop (`detector.training.loop.Trainer`) only trains and evaluates; this module gives it the built-in
callbacks (`detector.training.callbacks`) that do the side jobs above, then the caller's own (the search
reports to Ray Tune and stops trials through one), as detectron2's `defaults.py` assembles its hooks.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from core.errors import ConfigError
from detector.config import DetectorConfig, load_config
from detector.data.paths import DataPaths
from detector.training.callbacks import (
    Checkpointer,
    ConsoleProgress,
    CurvesPlot,
    MetricsLog,
    TensorBoardLog,
)
from detector.training.distributed import (
    check_batch_split,
    cleanup_distributed,
    resolve_device,
    setup_distributed,
)
from detector.training.loop import TrainCallback, Trainer, TrainResult
from detector.training.run_folder import FINAL

log = logging.getLogger(__name__)

__all__ = ["train"]


def train(
    config: DetectorConfig | dict[str, Any] | str | Path,
    paths: DataPaths,
    output_dir: str | Path,
    *,
    resume: bool = False,
    device: str | torch.device = "cpu",
    callbacks: Iterable[TrainCallback] = (),
    progress: bool = True,
) -> TrainResult:
    """Train FBNetV3OD on `paths` into `output_dir` (see the module docstring for what is written).

    `callbacks` run after the built-in ones; `progress` adds the console output (and evaluation progress
    bars). `resume=True` continues from `output_dir/last.pt` (a finished run just reports that it is
    complete). Raises `TrainingError` when the loss becomes non-finite (last.pt of the previous epoch stays
    intact), `ConfigError`/`DataError`/`CheckpointError` for bad inputs.
    """
    config = load_config(config)
    device_type = torch.device(device).type
    world_size = int(os.environ.get("WORLD_SIZE", "1"))  # checked before joining the process group
    check_batch_split(config.train.batch_size, world_size)
    if config.model.norm == "SyncBN" and device_type != "cuda" and world_size > 1:
        raise ConfigError(
            "model.norm: SyncBN needs CUDA (torch's SyncBatchNorm has no CPU/gloo kernel); "
            "use model.norm=naiveSyncBN for multi-process training on CPU"
        )
    info = setup_distributed(device_type)
    try:
        trainer = Trainer(config, paths, Path(output_dir), resume, resolve_device(device, info), progress, info)
        if trainer.complete:
            return _already_complete(trainer)
        built_in = [MetricsLog(trainer.output_dir), Checkpointer(trainer.output_dir), CurvesPlot(trainer.output_dir),
                    TensorBoardLog(trainer.output_dir), *([ConsoleProgress()] if trainer.progress else [])]
        return trainer.run([*built_in, *callbacks] if trainer.main else [])
    finally:
        cleanup_distributed(info)


def _already_complete(trainer: Trainer) -> TrainResult:
    """A resumed run that had finished: write `model_final.pt` if a kill came between it and last.pt."""
    if trainer.main:
        if not (trainer.output_dir / FINAL).is_file():
            Checkpointer(trainer.output_dir).save_final(trainer, trainer.start_epoch, trainer.checkpoint.get("metrics") or {})
        log.info("training in %s is already complete (%d/%d epochs)", trainer.output_dir, trainer.start_epoch, trainer.epochs)
    result = trainer.result()
    result.already_complete = True
    result.metrics = trainer.checkpoint.get("metrics") or result.metrics
    return result
