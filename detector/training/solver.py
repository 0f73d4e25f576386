"""Optimizer and per-iteration learning-rate schedule, following d2go's solver conventions.

* No weight decay on normalisation parameters (d2go: ``WEIGHT_DECAY_NORM: 0``) nor on biases:
  decaying a BN scale or a bias towards 0 only fights the normalisation and does not regularise.
* Learning rate per iteration: ``lr * warmup(it) * main(it)`` with

  - ``warmup(it) = warmup_factor + (1 - warmup_factor) * it / warmup_iters`` for ``it < warmup_iters``, else 1
    (detectron2's linear warmup);
  - cosine: ``main(it) = 0.5 * (1 + cos(pi * it / total_iters))`` (reaches 0 at the end, d2go's
    WarmupCosineLR with BASE_LR_END 0);
  - step: ``main(it) = lr_gamma ** (number of s in lr_steps with it >= s * total_iters)``.
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


def build_scheduler(optimizer: torch.optim.Optimizer, train: TrainConfig, total_iters: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Per-iteration `LambdaLR`; call `.step()` after every optimizer step."""
    fn = build_lr_lambda(
        total_iters,
        schedule=train.lr_schedule,
        warmup_iters=train.warmup_iters,
        warmup_factor=train.warmup_factor,
        steps=train.lr_steps,
        gamma=train.lr_gamma,
    )
    return torch.optim.lr_scheduler.LambdaLR(optimizer, fn)
