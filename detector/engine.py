"""The one training loop of FBNetV3OD, used by `python -m detector.train` and by the search.

`train(config, paths, output_dir)` writes into `output_dir`:

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

Callbacks (the search reports to Ray Tune and stops trials through them)::

    class MyCallback(TrainCallback):
        def on_epoch_end(self, epoch: int, metrics: dict, checkpoint_path: Path) -> None:
            ...                      # epoch counts from 1; last.pt is already written
            raise StopTraining()     # optional: end training cleanly after this epoch

Under `torchrun` (WORLD_SIZE > 1) the loop runs DDP; only rank 0 writes files, shows progress,
evaluates and calls the callbacks (its decision to stop is broadcast to all ranks).
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm import tqdm

from core.atomic import atomic_write_text, remove_stale_temporaries
from core.errors import CheckpointError, ConfigError, DataError, TrainingError
from core.jsonl import read_jsonl
from detector.checkpoint import load_checkpoint, save_checkpoint
from detector.config import DetectorConfig, config_to_dict, dump_config, load_config
from detector.curves import plot_curves
from detector.data import CocoDetection, DataPaths, build_dataloader, build_transforms
from detector.distributed import (
    DistInfo,
    all_reduce_mean,
    barrier,
    broadcast_flag,
    cleanup_distributed,
    setup_distributed,
)
from detector.evaluate import METRIC_KEYS, evaluate_coco, json_safe
from detector.model import build_detector
from detector.solver import build_optimizer, build_scheduler

log = logging.getLogger(__name__)

LAST = "last.pt"
FINAL = "model_final.pt"
METRICS = "metrics.jsonl"
CONFIG = "config.yaml"
CURVES = "curves.png"
TB_LOG_EVERY = 20  # iterations between TensorBoard loss/lr points


class StopTraining(Exception):
    """Raised by a callback to end training cleanly after the current epoch (e.g. ASHA stopping)."""


class TrainCallback:
    """Per-epoch hook. `epoch` counts from 1; `metrics` is the record just written to metrics.jsonl;
    `checkpoint_path` is the freshly written `last.pt`. Raise `StopTraining` to stop early."""

    def on_epoch_end(self, epoch: int, metrics: dict[str, Any], checkpoint_path: Path) -> None:
        pass


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


# ----------------------------------------------------------------------------- helpers


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) global RNGs."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    """All global RNG states as tensors and plain data (loadable with weights_only=True)."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": [name, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


def _to_device(images: Sequence[torch.Tensor], targets: Sequence[dict[str, Any]], device: torch.device):
    """Plain tensors (no tv_tensors subclasses) on `device`."""
    images = [img.as_subclass(torch.Tensor).to(device, non_blocking=True) for img in images]
    targets = [
        {k: v.as_subclass(torch.Tensor).to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in t.items()}
        for t in targets
    ]
    return images, targets


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

    `model.weights` is ignored: it only initialises a fresh run, the checkpoint holds the weights.
    """
    diffs = [d for d in _diff_configs(saved, config_to_dict(config)) if d[0] != "model.weights"]
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


# ----------------------------------------------------------------------------- the loop


def _load_datasets(config: DetectorConfig, paths: DataPaths) -> tuple[CocoDetection, CocoDetection | None]:
    train_set = CocoDetection(paths.train_json, paths.train_images, build_transforms(config.train.augment, train=True))
    val_set = None
    if paths.val_json is not None:
        val_set = CocoDetection(paths.val_json, paths.val_images or paths.train_images, transforms=None)
        if val_set.label_to_category_id != train_set.label_to_category_id or val_set.class_names != train_set.class_names:
            raise DataError(
                f"{paths.val_json} has categories {val_set.class_names} (ids {sorted(val_set.category_id_to_label)}) "
                f"but {paths.train_json} has {train_set.class_names} (ids {sorted(train_set.category_id_to_label)}); "
                "train and val must share one category list"
            )
    return train_set, val_set


def _resolve_num_classes(config: DetectorConfig, train_set: CocoDetection) -> DetectorConfig:
    k = train_set.num_classes
    if config.model.num_classes is not None and config.model.num_classes != k:
        raise ConfigError(
            f"model.num_classes is {config.model.num_classes} but {train_set.ann_file} has {k} categories "
            f"({', '.join(train_set.class_names)}); set model.num_classes to {k} or leave it unset (null)"
        )
    return load_config(config_to_dict(config) | {"model": {**config_to_dict(config)["model"], "num_classes": k}})


def _check_batch_split(batch_size: int, world_size: int) -> None:
    """train.batch_size is the global batch; every process takes an equal share."""
    if batch_size % world_size:
        raise ConfigError(
            f"train.batch_size: {batch_size} is not divisible by the {world_size} processes; "
            f"use a multiple of {world_size}"
        )


def _resolve_device(device: str | torch.device, info: DistInfo) -> torch.device:
    device = torch.device(device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError("device cuda requested but no CUDA device is available; use --device cpu")
        if info.distributed:
            return torch.device("cuda", info.local_rank)
    return device


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

    `resume=True` continues from `output_dir/last.pt` (a finished run just reports that it is
    complete). Raises `TrainingError` when the loss becomes non-finite (last.pt of the previous
    epoch stays intact), `ConfigError`/`DataError`/`CheckpointError` for bad inputs.
    """
    config = load_config(config)
    device_type = torch.device(device).type
    world_size = int(os.environ.get("WORLD_SIZE", "1"))  # checked before joining the process group
    _check_batch_split(config.train.batch_size, world_size)
    if config.model.norm == "SyncBN" and device_type != "cuda" and world_size > 1:
        raise ConfigError(
            "model.norm: SyncBN needs CUDA (torch's SyncBatchNorm has no CPU/gloo kernel); "
            "use model.norm=naiveSyncBN for multi-process training on CPU"
        )
    info = setup_distributed(device_type)
    try:
        return _Trainer(config, paths, Path(output_dir), resume, _resolve_device(device, info), list(callbacks), progress, info).run()
    finally:
        cleanup_distributed(info)


class _Trainer:
    """State of one training run; `run()` is the loop. Private: use `train()`."""

    def __init__(
        self, config: DetectorConfig, paths: DataPaths, out: Path, resume: bool, device: torch.device,
        callbacks: list[TrainCallback], progress: bool, info: DistInfo,
    ) -> None:
        self.paths, self.out, self.device, self.callbacks, self.info = paths, out, device, callbacks, info
        self.main = info.is_main
        self.progress = progress and self.main
        _check_batch_split(config.train.batch_size, info.world_size)
        self.batch_per_process = config.train.batch_size // info.world_size

        self.train_set, self.val_set = _load_datasets(config, paths)
        self.config = _resolve_num_classes(config, self.train_set)
        self.tc = self.config.train
        self.checkpoint = self._checkpoint_to_resume(resume)

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

    # ---------------------------------------------------------------- setup

    def _checkpoint_to_resume(self, resume: bool) -> dict[str, Any] | None:
        last = self.out / LAST
        if self.main:  # a checkpoint write killed in an earlier run left its temporary file: nobody writes here yet
            remove_stale_temporaries(self.out)
        if not resume:
            existing = [name for name in (LAST, FINAL) if (self.out / name).exists()]
            if existing:
                raise CheckpointError(
                    f"{self.out} already holds a training run ({', '.join(existing)}); pass --resume (resume=True) "
                    "to continue it, or choose another output folder"
                )
            return None
        if not last.is_file():
            raise CheckpointError(f"nothing to resume: {last} not found (start without --resume)")
        checkpoint = load_checkpoint(last)
        check_resume_config(checkpoint["config"], self.config, self.out)
        return checkpoint

    def _restore(self, ckpt: dict[str, Any]) -> None:
        """Model, optimizer, scheduler, scaler, EMA, counters and RNG state from last.pt."""
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        if ckpt.get("scaler"):
            self.scaler.load_state_dict(ckpt["scaler"])
        if self.ema is not None:
            if not ckpt.get("ema_model"):
                raise CheckpointError(f"{self.out / LAST} holds no EMA weights although train.ema_decay > 0")
            self.ema.module.load_state_dict(ckpt["ema_model"])
            self.ema.n_averaged.fill_(int(ckpt["ema_n_averaged"]))
        self.start_epoch = int(ckpt["epoch"])
        self.global_step = int(ckpt["global_step"])
        # the schedule may have been stretched (more epochs): put the lr where the new schedule has it
        for group, base in zip(self.optimizer.param_groups, self.scheduler.base_lrs):
            group["lr"] = base * self.lr_lambda(self.global_step)
        set_rng_state(ckpt["rng"])
        self.history = [r for r in read_jsonl(self.out / METRICS) if r.get("epoch", 0) <= self.start_epoch]

    def _loader(self, epoch: int) -> torch.utils.data.DataLoader:
        """Data order depends only on seed + epoch, which makes resume exact."""
        loader = build_dataloader(
            self.train_set, self.batch_per_process, shuffle=True, num_workers=self.tc.num_workers,
            seed=self.tc.seed + epoch, distributed=self.info.distributed,
        )
        if self.info.distributed:
            loader.sampler.set_epoch(epoch)
        return loader

    # ---------------------------------------------------------------- files (rank 0)

    def _write_metrics(self) -> None:
        atomic_write_text(self.out / METRICS, "".join(json.dumps(r) + "\n" for r in self.history))

    def _append_metrics(self, record: dict[str, Any]) -> None:
        with open(self.out / METRICS, "a") as handle:
            handle.write(json.dumps(record) + "\n")
            handle.flush()

    def _common_state(self) -> dict[str, Any]:
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

    def _save_last(self, epoch: int, record: dict[str, Any]) -> None:
        save_checkpoint(
            {
                **self._common_state(),
                "epoch": epoch,
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "scaler": self.scaler.state_dict() if self.amp else None,
                "ema_n_averaged": int(self.ema.n_averaged.item()) if self.ema is not None else 0,
                "rng": rng_state(),
                "metrics": record,
            },
            self.out / LAST,
        )

    def _save_final(self, epoch: int, metrics: dict[str, Any]) -> None:
        save_checkpoint({**self._common_state(), "epoch": epoch, "metrics": metrics}, self.out / FINAL)

    # ---------------------------------------------------------------- evaluation

    def _evaluate(self) -> dict[str, Any]:
        """Val AP of the weights that get deployed (EMA when on), plus the raw weights' AP."""
        if self.val_set is None:
            return {}
        kwargs = dict(batch_size=self.tc.batch_size, device=self.device, progress=self.progress)
        if self.ema is None:
            return evaluate_coco(self.model, self.val_set, **kwargs)
        metrics = evaluate_coco(self.ema.module, self.val_set, **kwargs)
        metrics["ap_raw"] = evaluate_coco(self.model, self.val_set, **kwargs)["ap"]
        return metrics

    # ---------------------------------------------------------------- one epoch

    def _train_epoch(self, epoch: int, tb: Any) -> dict[str, Any]:
        seed_everything((self.tc.seed + epoch) * self.info.world_size + self.info.rank)
        loader = self._loader(epoch)
        self.ddp.train()
        sums: dict[str, float] = {}
        images_seen = 0
        lr = self.optimizer.param_groups[0]["lr"]
        start = time.perf_counter()
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{self.tc.epochs}", disable=not self.progress, dynamic_ncols=True)
        for it, (images, targets) in enumerate(bar, start=1):
            images, targets = _to_device(images, targets, self.device)
            lr = self.optimizer.param_groups[0]["lr"]
            with torch.autocast(self.device.type, enabled=self.amp):
                loss_dict = self.ddp(images, targets)
            loss = sum(loss_dict.values())
            values = all_reduce_mean(torch.stack([loss.detach(), *(v.detach() for v in loss_dict.values())]).float(), self.info)
            values_list = values.tolist()
            if not math.isfinite(values_list[0]):
                kind = "nan" if math.isnan(values_list[0]) else "inf"
                last = "none (the first iteration failed)" if self.last_finite_loss is None else f"{self.last_finite_loss:.4f}"
                saved = (
                    f"the last good checkpoint is {self.out / LAST} (epoch {epoch})" if epoch > 0
                    else "no checkpoint was written yet"
                )
                raise TrainingError(
                    f"loss became non-finite ({kind}) at epoch {epoch + 1}, iteration {it}; last finite loss {last}; "
                    f"try a lower train.lr (now {self.tc.lr:g}), a longer train.warmup_iters or setting train.grad_clip; "
                    f"{saved}"
                )
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
            bar.set_postfix(loss=f"{values_list[0]:.3f}", lr=f"{lr:.2e}", refresh=False)
            if tb is not None and self.global_step % TB_LOG_EVERY == 0:
                tb.add_scalar("train/loss", values_list[0], self.global_step)
                tb.add_scalar("train/lr", lr, self.global_step)
        bar.close()
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

    # ---------------------------------------------------------------- the run

    def run(self) -> TrainResult:
        result = TrainResult(
            output_dir=self.out, final_checkpoint=self.out / FINAL, last_checkpoint=self.out / LAST,
            epochs_completed=self.start_epoch, global_step=self.global_step,
            metrics=self.history[-1] if self.history else {}, history=self.history,
            class_names=list(self.train_set.class_names),
        )
        if self.checkpoint is not None and self.start_epoch >= self.tc.epochs:
            if self.main:
                if not (self.out / FINAL).is_file():  # killed between last.pt and model_final.pt
                    self._save_final(self.start_epoch, self.checkpoint.get("metrics") or {})
                log.info("training in %s is already complete (%d/%d epochs)", self.out, self.start_epoch, self.tc.epochs)
            result.already_complete = True
            result.metrics = self.checkpoint.get("metrics") or result.metrics
            return result

        tb = None
        if self.main:
            self.out.mkdir(parents=True, exist_ok=True)
            dump_config(self.config, self.out / CONFIG)
            self._write_metrics()  # fresh file, or the resumed epochs only (no duplicates)
            tb = _open_tensorboard(self.out / "tb")
            if self.progress and self.checkpoint is not None:
                print(f"resuming {self.out} at epoch {self.start_epoch + 1}/{self.tc.epochs} (step {self.global_step})")
        try:
            for epoch in range(self.start_epoch, self.tc.epochs):
                record = self._train_epoch(epoch, tb)
                done = epoch + 1
                evaluate = done == self.tc.epochs or (self.tc.eval_every > 0 and done % self.tc.eval_every == 0)
                if evaluate and self.main:
                    record.update(self._evaluate())
                record = json_safe(record)
                stop = False
                if self.main:
                    self.history.append(record)
                    self._append_metrics(record)
                    self._save_last(done, record)
                    if tb is not None:
                        for key, value in record.items():
                            if isinstance(value, (int, float)) and key not in ("epoch", "global_step"):
                                tb.add_scalar(f"epoch/{key}", value, done)
                        tb.flush()
                    if self.progress:
                        shown = ", ".join(f"{k} {record[k]:.2f}" for k in METRIC_KEYS[:3] if record.get(k) is not None)
                        tqdm.write(f"epoch {done}: loss {record['loss']:.4f}" + (f", {shown}" if shown else ""))
                    try:
                        for callback in self.callbacks:
                            callback.on_epoch_end(done, record, self.out / LAST)
                    except StopTraining:
                        stop = True
                barrier(self.info)
                result.epochs_completed, result.global_step, result.metrics = done, self.global_step, record
                if broadcast_flag(stop, self.info, self.device):
                    result.stopped_early = done < self.tc.epochs
                    if self.progress:
                        print(f"stopped by a callback after epoch {done}/{self.tc.epochs}")
                    break
            if self.main:
                self._save_final(result.epochs_completed, result.metrics)
                plot_curves(self.history, self.out / CURVES, title=f"FBNetV3OD training: {self.out.name}")
                if self.progress:
                    print(format_history(self.history))
        finally:
            if tb is not None:
                tb.close()
        result.history = self.history
        return result
