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
* `curves.png`    loss and AP per epoch; `tb/` TensorBoard events when TensorBoard is installed;
* `eval_test.json` with a held-out `test` split: the final weights' AP on it, as `detector.evaluate` writes it, with
  the same figures beside it (`eval_test_pr_curve.png`, `eval_test_confusion.png`, `eval_test_samples.png`).

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
from detector.data.dataset import CocoDetection
from detector.data.paths import DataPaths, SplitFiles
from detector.data.run_sets import load_test_set
from detector.evaluation.figures import write_report_figures
from detector.evaluation.split_report import report_name, split_report, write_report
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
from detector.training.solver import warmup_problem

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
    test: SplitFiles | None = None,
    strict_schedule: bool = False,
    proxy_for_epochs: int | None = None,
) -> TrainResult:
    """Train FBNetV3OD on `paths` into `output_dir` (see the module docstring for what is written).

    `callbacks` run after the built-in ones; `progress` adds the console output (and evaluation progress
    bars). `resume=True` continues from `output_dir/last.pt` (a finished run just reports that it is
    complete). Raises `TrainingError` when the loss becomes non-finite (last.pt of the previous epoch stays
    intact), `ConfigError`/`DataError`/`CheckpointError` for bad inputs.

    A warmup that does not end before the run does never reaches `train.lr`. With `strict_schedule` (`detector.train`)
    it is a `ConfigError`. With `proxy_for_epochs` (a search trial: a proxy of the final run of that many epochs, shorter
    than the schedule its config was written for) it is scaled to the share of the schedule it has in the final run
    (`solver.fit_warmup`), with one warning naming both numbers; a warmup that fits trains as configured. Else (library
    use) it trains as configured, with a warning.

    `test` is a held-out split that training and early stopping never read (its file and categories are checked
    first): the final weights are evaluated on it once at the end, also for a run that was complete already (without
    retraining), into `eval_test.json` and `TrainResult.test_metrics`.
    """
    if strict_schedule and proxy_for_epochs is not None:
        raise ValueError("strict_schedule refuses the warmup that proxy_for_epochs scales: pass one of them")
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
        trainer = Trainer(config, paths, Path(output_dir), resume, resolve_device(device, info), progress, info,
                          proxy_for_epochs=proxy_for_epochs)
        if trainer.checkpoint is None:
            _check_fresh_start(trainer, strict_schedule)
        test_set = load_test_set(test, trainer.train_set) if test is not None and trainer.main else None
        if trainer.complete:
            result = _already_complete(trainer)
        else:
            built_in = [MetricsLog(trainer.output_dir), Checkpointer(trainer.output_dir), CurvesPlot(trainer.output_dir),
                        TensorBoardLog(trainer.output_dir), *([ConsoleProgress()] if trainer.progress else [])]
            result = trainer.run([*built_in, *callbacks] if trainer.main else [])
        if test is not None and test_set is not None:
            result.test_metrics = _evaluate_test(trainer, test_set, test)
        return result
    finally:
        cleanup_distributed(info)


def _check_fresh_start(trainer: Trainer, strict_schedule: bool) -> None:
    """What is said once, when a training starts afresh: not on --resume, nor when its checkpoint is loaded to evaluate,
    predict or export (the config is the same, and the user heard it when it mattered)."""
    problem = trainer.warmup_scaled or warmup_problem(trainer.tc, trainer.iters_per_epoch)
    if problem and strict_schedule:
        raise ConfigError(problem)
    if not trainer.main:
        return
    if problem:
        log.warning(problem)
    if trainer.config.model.freeze_at and not trainer.config.model.weights:
        log.warning("model.freeze_at=%d with model.weights=null freezes randomly initialised stages; set model.freeze_at=0 "
                    "(the default from scratch) to train every stage", trainer.config.model.freeze_at)


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


def _evaluate_test(trainer: Trainer, test_set: CocoDetection, test: SplitFiles) -> dict[str, Any]:
    """The final weights' AP on the held-out split, written in `detector.evaluate`'s format (`eval_test.json`)."""
    evaluation = trainer.evaluate_deployed(test_set)
    report = split_report(evaluation, source=trainer.output_dir / FINAL, exported=False, ann_file=test.ann_file, split=test.name,
                          num_images=len(test_set), weights="model" if trainer.ema is None else "ema", batch_size=trainer.tc.batch_size)
    path = trainer.output_dir / report_name(test.name)
    write_report(report, path)
    write_report_figures(evaluation, test_set, path)  # the PR curve, confusion matrix and sheet `detector.evaluate` draws
    return evaluation.metrics
