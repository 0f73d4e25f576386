"""The training loop: `Trainer` trains and evaluates, and calls `TrainCallback` hooks for everything else.

Like detectron2's `train_loop.py`, this module knows no concrete hook: `detector.training.callbacks` holds
the built-in ones (metrics log, checkpoints, curves, TensorBoard, console) and `detector.training.engine`
assembles them. Under `torchrun` (WORLD_SIZE > 1) the loop runs DDP; only rank 0 evaluates and gets
callbacks, and its decision to stop is broadcast to all ranks.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from core.errors import CheckpointError, TrainingError
from core.jsonl import read_jsonl
from detector.config import DetectorConfig, config_to_dict
from detector.data.loader import build_dataloader
from detector.data.paths import DataPaths
from detector.data.run_sets import config_for_data, load_datasets
from detector.evaluation.coco import CocoEvaluation, coco_evaluation, evaluate_coco, json_safe
from detector.modeling.model import build_detector
from detector.training.distributed import (
    DistInfo,
    all_reduce_mean,
    barrier,
    broadcast_flag,
    check_batch_split,
)
from detector.training.heap import release_free_heap
from detector.training.resume import checkpoint_to_resume
from detector.training.rng import rng_state, seed_everything, set_rng_state
from detector.training.run_folder import FINAL, LAST, METRICS
from detector.training.solver import build_optimizer, build_scheduler, fit_warmup

log = logging.getLogger(__name__)

__all__ = ["StopTraining", "TrainCallback", "TrainResult", "Trainer"]


class StopTraining(Exception):
    """Raised by a callback to end training cleanly after the current epoch (e.g. ASHA stopping)."""


class TrainCallback:
    """Hooks of one training run; override the ones you need. Called on the main process only."""

    def on_train_start(self, trainer: Trainer) -> None:
        """Before the first epoch of this call (also when resuming); `trainer.history` holds the epochs already done."""

    def on_epoch_start(self, epoch: int, iterations: int) -> None:
        """`epoch` counts from 1; `iterations` is the number of optimizer steps it will take."""

    def on_step_end(self, step: int, iteration: int, loss: float, lr: float) -> None:
        """After optimizer step `step` (global, from 1), the `iteration`-th of the epoch, with its loss and lr."""

    def on_epoch_end(self, epoch: int, metrics: dict[str, Any], checkpoint_path: Path) -> None:
        """`metrics` is the epoch's record (with val AP when evaluated); `checkpoint_path` is the freshly
        written `last.pt`. Raise `StopTraining` to stop early."""

    def on_train_end(self, result: TrainResult) -> None:
        """After the last epoch (or a stop), when training succeeded."""

    def close(self) -> None:
        """Always last, also when training failed: release what the callback holds."""


@dataclass
class TrainResult:
    output_dir: Path
    final_checkpoint: Path
    last_checkpoint: Path
    epochs_completed: int
    global_step: int
    metrics: dict[str, Any]  # the last epoch's record (with val AP when evaluated)
    history: list[dict[str, Any]] = field(default_factory=list)
    class_names: list[str] = field(default_factory=list)
    stopped_early: bool = False
    already_complete: bool = False
    test_metrics: dict[str, Any] = field(default_factory=dict)  # the held-out test split's AP of the final weights, if given


def _to_device(images: Sequence[torch.Tensor], targets: Sequence[dict[str, Any]], device: torch.device):
    """Plain tensors (no tv_tensors subclasses) on `device`."""
    images = [img.as_subclass(torch.Tensor).to(device, non_blocking=True) for img in images]
    targets = [
        {k: v.as_subclass(torch.Tensor).to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in t.items()}
        for t in targets
    ]
    return images, targets


class Trainer:
    """State of one training run (model, optimizer, schedule, EMA, counters); `run()` is the loop.

    Built by `detector.training.engine.train`; callbacks receive it in `on_train_start` and read what they need (`config`,
    `history`, `resume_state()` ...). `proxy_for_epochs`: see `engine.train`.
    """

    def __init__(
        self, config: DetectorConfig, paths: DataPaths, output_dir: Path, resume: bool, device: torch.device, progress: bool,
        info: DistInfo, *, proxy_for_epochs: int | None = None,
    ) -> None:
        self.paths, self.output_dir, self.device, self.info = paths, output_dir, device, info
        self.main = info.is_main
        self.progress = progress and self.main
        check_batch_split(config.train.batch_size, info.world_size)
        self.batch_per_process = config.train.batch_size // info.world_size

        self.train_set, self.val_set = load_datasets(config, paths)
        self.config = config_for_data(config, self.train_set)
        self.tc = self.config.train
        self.checkpoint = checkpoint_to_resume(output_dir, self.config, resume, self.main)

        self.amp = self.tc.amp and device.type == "cuda"
        if self.tc.amp and not self.amp and self.main:
            log.warning("train.amp is on but the device is %s: training in float32 (AMP only on CUDA)", device)

        seed_everything(self.tc.seed)
        self.model: nn.Module = build_detector(
            self.config, num_classes=self.train_set.num_classes, load_weights=self.checkpoint is None
        ).to(device)
        self.optimizer = build_optimizer(self.model, self.tc)
        self.iters_per_epoch = len(self._loader(0))
        self.total_iters = self.tc.epochs * self.iters_per_epoch
        self.tc = self.tc.resolved(self.total_iters)  # schedule-relative warmup / EMA horizon in steps of this run
        # a proxy run (search trial) scales a warmup longer than itself, also on resume; warmup_scaled: the warning line
        self.tc, self.warmup_scaled = fit_warmup(self.tc, self.iters_per_epoch, proxy_for_epochs)
        self.scheduler = build_scheduler(self.optimizer, self.tc, self.total_iters)
        self.lr_lambda = self.scheduler.lr_lambdas[0]
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.amp)
        self.ema = (
            AveragedModel(self.model, multi_avg_fn=get_ema_multi_avg_fn(self.tc.ema_decay), use_buffers=True)
            if self.tc.ema_decay > 0 else None
        )
        if self.ema is not None and self.main and 1.0 / (1.0 - self.tc.ema_decay) > 0.25 * self.total_iters:
            log.warning(
                "train.ema_decay %g averages over ~%d iterations, a large part of this run's %d: the EMA weights "
                "(evaluated and saved as ema_model) will lag the trained ones; a smaller decay suits short runs",
                self.tc.ema_decay, round(1.0 / (1.0 - self.tc.ema_decay)), self.total_iters,
            )
        self.start_epoch = 0
        self.global_step = 0
        self.history: list[dict[str, Any]] = []
        self.last_finite_loss: float | None = None  # for the NaN-guard message
        if self.checkpoint is not None:
            self._restore(self.checkpoint)

        self.ddp: nn.Module = self.model
        if info.distributed:
            self.ddp = DistributedDataParallel(
                self.model, device_ids=[device.index] if device.type == "cuda" else None, find_unused_parameters=False
            )

    @property
    def epochs(self) -> int:
        return self.tc.epochs

    # ---------------------------------------------------------------- state for checkpoints

    def weights_state(self) -> dict[str, Any]:
        """What rebuilds the trained model: weights (+ EMA weights), config, classes, label map, step."""
        state: dict[str, Any] = {
            "model": self.model.state_dict(),
            "config": config_to_dict(self.config),
            "class_names": list(self.train_set.class_names),
            "label_to_category_id": dict(self.train_set.label_to_category_id),
            "global_step": self.global_step,
        }
        if self.ema is not None:
            state["ema_model"] = self.ema.module.state_dict()
        return state

    def resume_state(self) -> dict[str, Any]:
        """`weights_state` plus everything an exact resume needs (read back by `_restore`)."""
        return {
            **self.weights_state(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict() if self.amp else None,
            "ema_n_averaged": int(self.ema.n_averaged.item()) if self.ema is not None else 0,
            "rng": rng_state(),
        }

    def _restore(self, ckpt: dict[str, Any]) -> None:
        """Model, optimizer, scheduler, scaler, EMA, counters and RNG state from last.pt."""
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        if ckpt.get("scaler"):
            self.scaler.load_state_dict(ckpt["scaler"])
        if self.ema is not None:
            if not ckpt.get("ema_model"):
                raise CheckpointError(f"{self.output_dir / LAST} holds no EMA weights although train.ema_decay > 0")
            self.ema.module.load_state_dict(ckpt["ema_model"])
            self.ema.n_averaged.fill_(int(ckpt["ema_n_averaged"]))
        self.start_epoch = int(ckpt["epoch"])
        self.global_step = int(ckpt["global_step"])
        # the schedule may have been stretched (more epochs): put the lr where the new schedule has it
        for group, base in zip(self.optimizer.param_groups, self.scheduler.base_lrs):
            group["lr"] = base * self.lr_lambda(self.global_step)
        set_rng_state(ckpt["rng"])
        self.history = [r for r in read_jsonl(self.output_dir / METRICS) if r.get("epoch", 0) <= self.start_epoch]

    def _loader(self, epoch: int) -> torch.utils.data.DataLoader:
        """Data order depends only on seed + epoch, which makes resume exact."""
        loader = build_dataloader(
            self.train_set, self.batch_per_process, shuffle=True, num_workers=self.tc.num_workers,
            seed=self.tc.seed + epoch, distributed=self.info.distributed,
        )
        if self.info.distributed:
            loader.sampler.set_epoch(epoch)
        return loader

    # ---------------------------------------------------------------- evaluation

    def evaluate_deployed(self, dataset: Any, *, with_raw: bool = False) -> CocoEvaluation:
        """COCO evaluation on `dataset` of the weights that get deployed (EMA when on), in the training's batches;
        `with_raw` adds the raw weights' AP (`ap_raw`) to its metrics when the deployed ones are the EMA weights."""
        kwargs = dict(batch_size=self.tc.batch_size, device=self.device, progress=self.progress)
        evaluation = coco_evaluation(self.model if self.ema is None else self.ema.module, dataset, **kwargs)
        if with_raw and self.ema is not None:
            evaluation.metrics["ap_raw"] = evaluate_coco(self.model, dataset, **kwargs)["ap"]
        return evaluation

    # ---------------------------------------------------------------- one epoch

    def _train_epoch(self, epoch: int, callbacks: list[TrainCallback]) -> dict[str, Any]:
        seed_everything((self.tc.seed + epoch) * self.info.world_size + self.info.rank)
        loader = self._loader(epoch)
        for callback in callbacks:
            callback.on_epoch_start(epoch + 1, len(loader))
        self.ddp.train()
        sums: dict[str, float] = {}
        images_seen = 0
        lr = self.optimizer.param_groups[0]["lr"]
        start = time.perf_counter()
        for it, (images, targets) in enumerate(loader, start=1):
            images, targets = _to_device(images, targets, self.device)
            lr = self.optimizer.param_groups[0]["lr"]
            with torch.autocast(self.device.type, enabled=self.amp):
                loss_dict = self.ddp(images, targets)
            loss = sum(loss_dict.values())
            values = all_reduce_mean(torch.stack([loss.detach(), *(v.detach() for v in loss_dict.values())]).float(), self.info)
            values_list = values.tolist()
            if not math.isfinite(values_list[0]):
                raise self._diverged(values_list[0], epoch, it)
            self.last_finite_loss = values_list[0]

            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            if self.tc.grad_clip is not None:
                self.scaler.unscale_(self.optimizer)
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.tc.grad_clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.scheduler.step()
            if self.ema is not None:
                self.ema.update_parameters(self.model)
            self.global_step += 1

            names = ["loss", *loss_dict.keys()]
            for name, value in zip(names, values_list):
                sums[name] = sums.get(name, 0.0) + value
            images_seen += len(images) * self.info.world_size
            for callback in callbacks:
                callback.on_step_end(self.global_step, it, values_list[0], lr)
        elapsed = time.perf_counter() - start
        n = max(len(loader), 1)
        record: dict[str, Any] = {"epoch": epoch + 1, "global_step": self.global_step}
        record.update({name: total / n for name, total in sums.items()})
        record.update({
            "lr": lr,  # of the epoch's last iteration
            "epoch_time_s": elapsed,
            "images_per_s": images_seen / elapsed if elapsed > 0 else 0.0,
        })
        return record

    def _diverged(self, loss: float, epoch: int, iteration: int) -> TrainingError:
        """The NaN guard's error: where, the last finite loss, what to try, and which checkpoint is intact."""
        kind = "nan" if math.isnan(loss) else "inf"
        last = "none (the first iteration failed)" if self.last_finite_loss is None else f"{self.last_finite_loss:.4f}"
        saved = f"the last good checkpoint is {self.output_dir / LAST} (epoch {epoch})" if epoch > 0 else "no checkpoint was written yet"
        return TrainingError(
            f"loss became non-finite ({kind}) at epoch {epoch + 1}, iteration {iteration}; last finite loss {last}; "
            f"try a lower train.lr (now {self.tc.lr:g}), a longer train.warmup_iters or setting train.grad_clip; "
            f"{saved}"
        )

    # ---------------------------------------------------------------- the run

    @property
    def complete(self) -> bool:
        """A resumed run whose every epoch is done already."""
        return self.checkpoint is not None and self.start_epoch >= self.tc.epochs

    def result(self) -> TrainResult:
        """Where the run stands now, as `train` returns it."""
        return TrainResult(
            output_dir=self.output_dir, final_checkpoint=self.output_dir / FINAL, last_checkpoint=self.output_dir / LAST,
            epochs_completed=self.start_epoch, global_step=self.global_step,
            metrics=self.history[-1] if self.history else {}, history=self.history,
            class_names=list(self.train_set.class_names),
        )

    def run(self, callbacks: list[TrainCallback]) -> TrainResult:
        """Train the remaining epochs, calling `callbacks` (pass them on the main process only)."""
        result = self.result()
        if self.main:
            self.output_dir.mkdir(parents=True, exist_ok=True)
        try:
            for callback in callbacks:
                callback.on_train_start(self)
            for epoch in range(self.start_epoch, self.tc.epochs):
                record = self._train_epoch(epoch, callbacks)
                done = epoch + 1
                evaluate = done == self.tc.epochs or (self.tc.eval_every > 0 and done % self.tc.eval_every == 0)
                if evaluate and self.main and self.val_set is not None:
                    record.update(self.evaluate_deployed(self.val_set, with_raw=True).metrics)
                release_free_heap()
                record = json_safe(record)
                stop = False
                if self.main:
                    self.history.append(record)
                    try:
                        for callback in callbacks:
                            callback.on_epoch_end(done, record, self.output_dir / LAST)
                    except StopTraining:
                        stop = True
                barrier(self.info)
                result.epochs_completed, result.global_step, result.metrics = done, self.global_step, record
                if broadcast_flag(stop, self.info, self.device):
                    result.stopped_early = done < self.tc.epochs
                    break
            result.history = self.history
            for callback in callbacks:
                callback.on_train_end(result)
        finally:
            for callback in callbacks:
                callback.close()
        return result
