"""The few torch.distributed facts the trainer needs, read from torchrun's environment.

`torchrun --nproc_per_node N -m detector.train ...` sets WORLD_SIZE / RANK / LOCAL_RANK (and the
rendezvous variables); a plain `python -m detector.train` sets none and trains in one process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from core.errors import ConfigError


@dataclass(frozen=True)
class DistInfo:
    world_size: int = 1
    rank: int = 0
    local_rank: int = 0
    initialized_here: bool = False  # this process group was created by us, so we also destroy it

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup_distributed(device_type: str) -> DistInfo:
    """Join torchrun's process group when WORLD_SIZE > 1: NCCL for CUDA, gloo for CPU."""
    if dist.is_available() and dist.is_initialized():
        return DistInfo(dist.get_world_size(), dist.get_rank(), int(os.environ.get("LOCAL_RANK", 0)))
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistInfo()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device_type == "cuda":
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")
    return DistInfo(dist.get_world_size(), dist.get_rank(), local_rank, initialized_here=True)


def cleanup_distributed(info: DistInfo) -> None:
    if info.initialized_here and dist.is_initialized():
        dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    if info.distributed:
        dist.barrier()


def all_reduce_mean(tensor: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Mean over processes (identity in a single process)."""
    if not info.distributed:
        return tensor
    tensor = tensor.clone()
    dist.all_reduce(tensor)
    return tensor / info.world_size


def broadcast_flag(flag: bool, info: DistInfo, device: torch.device) -> bool:
    """Rank 0's boolean on every process (e.g. 'stop now', decided by a callback on rank 0)."""
    if not info.distributed:
        return flag
    value = torch.tensor([1 if flag else 0], device=device)
    dist.broadcast(value, src=0)
    return bool(value.item())


def check_batch_split(batch_size: int, world_size: int) -> None:
    """train.batch_size is the global batch; every process takes an equal share."""
    if batch_size % world_size:
        raise ConfigError(
            f"train.batch_size: {batch_size} is not divisible by the {world_size} processes; "
            f"use a multiple of {world_size}"
        )


def default_device() -> str:
    """What the CLIs run on when `--device` is not given: the GPU when there is one."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_device(device: str | torch.device, info: DistInfo) -> torch.device:
    """`device` as torch's; under DDP on CUDA, this process's GPU."""
    device = torch.device(device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError("device cuda requested but no CUDA device is available; use --device cpu")
        if info.distributed:
            return torch.device("cuda", info.local_rank)
    return device
