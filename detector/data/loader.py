"""Box-aware training transforms (torchvision `transforms.v2`) and the data loaders of a training run: seeded
shuffling per epoch (exact resume), distributed sampling under `torchrun`, detection batches."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from torchvision.transforms import v2

from detector.data.dataset import Target

if TYPE_CHECKING:
    from detector.config import AugmentConfig


def _target_labels(inputs: Any) -> torch.Tensor:
    """labels_getter for SanitizeBoundingBoxes on `(image, target)` inputs (module-level: picklable)."""
    return inputs[1]["labels"]


def build_transforms(augment: AugmentConfig | None, train: bool) -> v2.Compose | None:
    """Box-aware train augmentation; None for evaluation (scale jitter lives in the model's resize)."""
    if not train or augment is None:
        return None
    steps: list[Any] = [v2.RandomHorizontalFlip(p=augment.hflip_prob)]
    if augment.color_jitter > 0:
        cj = augment.color_jitter
        steps.append(v2.ColorJitter(brightness=cj, contrast=cj, saturation=cj))
    steps.append(v2.SanitizeBoundingBoxes(labels_getter=_target_labels))
    return v2.Compose(steps)


def collate_detection(batch: Sequence[tuple[Any, Target]]) -> tuple[list[Any], list[Target]]:
    """Detection images differ in size, so a batch stays a list of images and a list of targets."""
    images, targets = zip(*batch) if batch else ((), ())
    return list(images), list(targets)


def _seed_worker(worker_id: int) -> None:
    """Seed Python and NumPy in each worker from torch's per-worker seed (torch seeds only itself)."""
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)


def build_dataloader(
    dataset: Dataset,
    batch_size: int,
    shuffle: bool,
    num_workers: int,
    seed: int,
    distributed: bool = False,
    drop_last: bool = False,
) -> DataLoader:
    """Reproducible detection loader; with `distributed`, call `loader.sampler.set_epoch(epoch)` each epoch."""
    generator = torch.Generator()
    sampler = None
    if distributed:
        if not (dist.is_available() and dist.is_initialized()):
            raise RuntimeError("build_dataloader(distributed=True) needs torch.distributed to be initialised")
        sampler = DistributedSampler(dataset, shuffle=shuffle, seed=seed, drop_last=drop_last)
        generator.manual_seed(seed + dist.get_rank())  # different worker augmentation streams per rank
    else:
        generator.manual_seed(seed)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle if sampler is None else False,
        sampler=sampler,
        num_workers=num_workers,
        collate_fn=collate_detection,
        generator=generator,
        worker_init_fn=_seed_worker,
        persistent_workers=False,
        drop_last=drop_last,
    )
