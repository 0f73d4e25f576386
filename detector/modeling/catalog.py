"""What can be built by name, for people choosing one: every registered arch with the size and FLOPs of the detector
it builds, and the named pretrained weights with the arch each fits. `python -m detector.archs` prints both.

FLOPs (and params) come from `detector.modeling.flops.PartCosts`, the counter the search uses for its constraints, so a
listed arch and a trial of the same config agree. They are counted for one image at the input size the caller chooses
(default: the config's `input.min_size` x `input.max_size`) with `model.rpn.post_nms_topk_test` RoIs through the box
head; both grow the count. One `PartCosts` serves every row: archs share blocks, each counted once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from detector.config import DetectorConfig, load_config
from detector.modeling.backbones.fbnet import parse_detection_arch
from detector.modeling.backbones.registry import list_archs
from detector.modeling.flops import PartCosts
from detector.weights.hub import cache_path
from detector.weights.registry import WEIGHTS

COCO_CLASSES = 80  # the class count of the registered checkpoints


@dataclass(frozen=True)
class ArchRow:
    name: str
    params: int  # every weight of the detector, nothing frozen (the search's count)
    flops: int  # of the eval model on one image of the chosen input size (the search's count)
    trunk_stages: int
    weights: list[str]  # registered checkpoints of this arch


@dataclass(frozen=True)
class WeightsRow:
    name: str
    arch: str
    num_classes: int
    box_ap: float | None  # COCO val box AP as published by d2go
    cached: bool  # already downloaded: usable offline


def arch_config(arch: str, num_classes: int = COCO_CLASSES, input_size: tuple[int, int] | None = None) -> DetectorConfig:
    """The default config of `arch` with nothing frozen and `num_classes` set (the counter reads it from the config,
    as in the search's `CostSpec.config()`); `input_size` is (min_size, max_size), None keeps the config's default."""
    data: dict[str, Any] = {"model": {"arch": arch, "weights": None, "freeze_at": 0, "num_classes": num_classes}}
    if input_size is not None:
        data["input"] = {"min_size": input_size[0], "max_size": input_size[1]}
    return load_config(data)


def arch_rows(names: Sequence[str] | None = None, num_classes: int = COCO_CLASSES,
              input_size: tuple[int, int] | None = None) -> Iterator[ArchRow]:
    """One row per registered arch (or per name of `names`), computed lazily: a caller can print each as it comes."""
    costs = PartCosts()
    for name in names or list_archs():
        flops, params = costs.detector(arch_config(name, num_classes, input_size))
        yield ArchRow(
            name=name,
            params=params,
            flops=flops,
            trunk_stages=len(parse_detection_arch(name).trunk),
            weights=[w.name for w in WEIGHTS.values() if w.arch == name],
        )


def weights_rows() -> list[WeightsRow]:
    """The registered checkpoints, in registry order."""
    return [WeightsRow(w.name, w.arch, w.num_classes, w.box_ap, cache_path(w.url).is_file()) for w in WEIGHTS.values()]
