"""Optimizer and per-iteration learning-rate schedule, following d2go's solver conventions.

* No weight decay on normalisation parameters (d2go: ``WEIGHT_DECAY_NORM: 0``) nor on biases:
  decaying a BN scale or a bias towards 0 only fights the normalisation and does not regularise.
* Learning rate per iteration: ``lr * warmup(it) * main(it)`` with

  - ``warmup(it) = warmup_factor + (1 - warmup_factor) * it / warmup_iters`` for ``it < warmup_iters``, else 1
    (detectron2's linear warmup);
  - cosine: ``main(it) = 0.5 * (1 + cos(pi * it / total_iters))`` (reaches 0 at the end, d2go's
    WarmupCosineLR with BASE_LR_END 0);
  - step: ``main(it) = lr_gamma ** (number of s in lr_steps with it >= s * total_iters)``.

The schedule is checked against the run's length (`warmup_problem`): a warmup that does not end before the
run does never reaches the configured lr. Step points and `warmup_fraction` are shares of the run, so they always fit.
A search trial, a short proxy of the final run, scales such a warmup to its share of the final schedule (`fit_warmup`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn
from torchvision.ops._utils import split_normalization_params

from detector.config import TrainConfig


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Trainable parameters split into a decayed group and a no-decay group (norm weights/biases, all biases)."""
    norm_params, other_params = split_normalization_params(model)
    norm_ids = {id(p) for p in norm_params}
    no_decay: list[nn.Parameter] = list(norm_params)
    decay: list[nn.Parameter] = []
    for name, param in model.named_parameters():
        if not param.requires_grad or id(param) in norm_ids:
            continue
        (no_decay if name.endswith(".bias") or name == "bias" else decay).append(param)
    if len(decay) + len(no_decay) != len(norm_params) + len(other_params):
        raise RuntimeError("parameter grouping lost or duplicated parameters")  # shared params: a model bug
    groups = [
        {"name": "decay", "params": decay, "weight_decay": weight_decay},
        {"name": "no_decay", "params": no_decay, "weight_decay": 0.0},
    ]
    return [g for g in groups if g["params"]]


def build_optimizer(model: nn.Module, train: TrainConfig) -> torch.optim.Optimizer:
    """SGD with momentum (d2go default) or AdamW over `parameter_groups`."""
    groups = parameter_groups(model, train.weight_decay)
    if train.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=train.lr, momentum=train.momentum)
    return torch.optim.AdamW(groups, lr=train.lr)


def build_lr_lambda(
    total_iters: int,
    *,
    schedule: str = "cosine",
    warmup_iters: int = 0,
    warmup_factor: float = 0.001,
    steps: list[float] | tuple[float, ...] = (),
    gamma: float = 0.1,
) -> Callable[[int], float]:
    """Multiplier of the base lr at iteration `it` (see the module docstring for the formula).

    Returned as a plain function on purpose: `LambdaLR` does not save functions in its state, so a
    resumed run with more epochs recomputes the schedule for the new length.
    """
    total = max(int(total_iters), 1)
    step_iters = [s * total for s in steps]
    if schedule not in ("cosine", "step"):
        raise ValueError(f"unknown lr schedule '{schedule}'; allowed: cosine, step")

    def multiplier(it: int) -> float:
        warm = 1.0
        if it < warmup_iters:
            warm = warmup_factor + (1.0 - warmup_factor) * it / warmup_iters
        if schedule == "cosine":
            main = 0.5 * (1.0 + math.cos(math.pi * min(it, total) / total))
        else:
            main = gamma ** sum(it >= s for s in step_iters)
        return warm * main

    return multiplier


def lr_lambda_of(train: TrainConfig, total_iters: int) -> Callable[[int], float]:
    """`build_lr_lambda` with the schedule of `train` (resolved for the run)."""
    return build_lr_lambda(
        total_iters,
        schedule=train.lr_schedule,
        warmup_iters=train.warmup_iters,
        warmup_factor=train.warmup_factor,
        steps=train.lr_steps,
        gamma=train.lr_gamma,
    )


def warmup_problem(train: TrainConfig, iters_per_epoch: int) -> str | None:
    """One line naming both numbers when the warmup does not end before the run does, else None.

    Such a warmup never reaches `train.lr` (100 warmup steps in a 52-step cosine run peak at 0.13 x lr),
    which trains a much weaker model without any error. `train` is resolved for the run (`TrainConfig.resolved`).
    """
    total = train.epochs * iters_per_epoch
    if train.warmup_iters < total:
        return None
    fn = lr_lambda_of(train, total)
    peak = train.lr * max(fn(it) for it in range(total))
    relation = "longer than" if train.warmup_iters > total else "as long as"
    epochs = f"{train.epochs} epoch{'s' if train.epochs != 1 else ''}"
    return (
        f"train.warmup_iters ({train.warmup_iters}) is {relation} this run ({total} iterations = {epochs} x {iters_per_epoch}): "
        f"the learning rate would peak at {peak:.2g} instead of train.lr {train.lr:g}; set train.warmup_iters below {total} "
        f"(e.g. --set train.warmup_iters={min(total - 1, max(1, total // 10))}) or train longer"
    )


def fit_warmup(train: TrainConfig, iters_per_epoch: int, final_epochs: int | None) -> tuple[TrainConfig, str | None]:
    """`train` for a proxy run of a schedule written for `final_epochs` epochs (a search trial), and one warning line.

    A warmup that does not end before the proxy run is scaled to the share of the schedule it has in the final run
    (warmup_iters x train.epochs / final_epochs, rounded, at least 1 and below the run's length): otherwise the trial
    never reaches `train.lr` and measures a weaker model than the final run trains. A warmup that fits, or a run that is
    no proxy (`final_epochs` None), is kept as it is (None). `train` is resolved for the run (`TrainConfig.resolved`),
    so a `warmup_fraction` always fits.
    """
    total = train.epochs * iters_per_epoch
    if final_epochs is None or train.warmup_iters < total:
        return train, None
    share = round(train.warmup_iters * train.epochs / final_epochs)
    scaled = min(max(1, share), total - 1)
    relation = "longer than" if train.warmup_iters > total else "as long as"
    epochs = f"{train.epochs} epoch{'s' if train.epochs != 1 else ''}"
    why = f"its share of the final run's {final_epochs} epochs"
    if scaled != share:
        bound = "at least 1 step" if scaled > share else "kept below the trial's end"
        why = f"{train.warmup_iters} x {train.epochs}/{final_epochs} epochs of the final run, {bound}"
    return train.model_copy(update={"warmup_iters": scaled}), (
        f"train.warmup_iters ({train.warmup_iters}) is {relation} this trial "
        f"({total} iterations = {epochs} x {iters_per_epoch}): "
        f"the trial warms up for {scaled} iterations instead ({why}), so that it reaches train.lr {train.lr:g}"
    )


def build_scheduler(optimizer: torch.optim.Optimizer, train: TrainConfig, total_iters: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Per-iteration `LambdaLR`; call `.step()` after every optimizer step."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda_of(train, total_iters))
