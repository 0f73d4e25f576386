"""What can be built by name, for people choosing one: every registered arch with the size of the detector it builds,
and the named pretrained weights with the arch each fits. `python -m detector.archs` prints both.

FLOPs are not counted here: they depend on the input size and the proposal counts, and their counter belongs to the
search (`search_spaces.fbnetv3`, a layer above `detector`), whose trials table lists them per trial.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from detector.config import load_config
from detector.modeling.backbones.fbnet import parse_detection_arch
from detector.modeling.backbones.registry import list_archs
from detector.modeling.model import build_detector
from detector.weights.hub import cache_path
from detector.weights.registry import WEIGHTS

COCO_CLASSES = 80  # the class count of the registered checkpoints


@dataclass(frozen=True)
class ArchRow:
    name: str
    params: int  # every weight of the detector, nothing frozen (the search's count)
    trunk_stages: int
    weights: list[str]  # registered checkpoints of this arch


@dataclass(frozen=True)
class WeightsRow:
    name: str
    arch: str
    num_classes: int
    box_ap: float | None  # COCO val box AP as published by d2go
    cached: bool  # already downloaded: usable offline


def detector_params(arch: str, num_classes: int = COCO_CLASSES) -> int:
    """Parameters of the detector `arch` builds with the default config and nothing frozen; built on the meta device,
    which allocates no memory (a large arch in well under a second)."""
    config = load_config({"model": {"arch": arch, "weights": None, "freeze_at": 0}})
    with torch.device("meta"):
        model = build_detector(config, num_classes=num_classes, load_weights=False)
    return sum(p.numel() for p in model.parameters())


def arch_rows(names: Sequence[str] | None = None, num_classes: int = COCO_CLASSES) -> Iterator[ArchRow]:
    """One row per registered arch (or per name of `names`), computed lazily: a caller can print each as it comes."""
    for name in names or list_archs():
        yield ArchRow(
            name=name,
            params=detector_params(name, num_classes),
            trunk_stages=len(parse_detection_arch(name).trunk),
            weights=[w.name for w in WEIGHTS.values() if w.arch == name],
        )


def weights_rows() -> list[WeightsRow]:
    """The registered checkpoints, in registry order."""
    return [WeightsRow(w.name, w.arch, w.num_classes, w.box_ap, cache_path(w.url).is_file()) for w in WEIGHTS.values()]
