"""A seeded, class-stratified slice of a COCO data set: search a large data set on a few images per trial.

A search ranks candidates; it needs every class in its slice in about the data set's proportions, not
every image. `stratified_subset` first covers every class (rarest first: one random image that holds it,
while the slice has room), then gives each stratum (images grouped by their rarest class; images without
boxes are a stratum of their own) its proportional share, filled in a seeded random order. The same
image classes, size and seed always give the same slice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from pathlib import Path

import numpy as np

from detector.data.coco_json import read_coco

NO_CLASS = -1
"""The stratum of images without any annotated class (background-only images)."""


def stratified_subset(image_classes: Mapping[int, Collection[int]], size: int, seed: int = 0) -> list[int]:
    """`size` image ids (all of them when there are no more), every class kept while `size` allows, sorted."""
    ids = sorted(image_classes)
    if size >= len(ids):
        return ids
    rng = np.random.default_rng(seed)
    order = [ids[i] for i in rng.permutation(len(ids))]
    frequency = Counter(c for image in ids for c in set(image_classes[image]))
    picked = _cover_classes(image_classes, order, frequency, size)
    stratum = {i: min(image_classes[i], key=lambda c: (frequency[c], c)) if image_classes[i] else NO_CLASS for i in ids}
    quota = _shares(Counter(stratum.values()), size)
    for image in picked:
        quota[stratum[image]] -= 1
    chosen = set(picked)
    for image in order:
        if len(picked) < size and image not in chosen and quota[stratum[image]] > 0:
            quota[stratum[image]] -= 1
            picked.append(image)
            chosen.add(image)
    picked += [i for i in order if i not in chosen][: size - len(picked)]  # strata whose cover took more than their share
    return sorted(picked)


def _cover_classes(image_classes: Mapping[int, Collection[int]], order: list[int], frequency: Counter[int], size: int) -> list[int]:
    """One image per class not yet held, rarest class first, in `order`, while fewer than `size` are picked."""
    picked: list[int] = []
    covered: set[int] = set()
    for cls in sorted(frequency, key=lambda c: (frequency[c], c)):
        if len(picked) == size:
            break
        if cls not in covered:
            image = next(i for i in order if cls in image_classes[i])
            picked.append(image)
            covered.update(image_classes[image])
    return picked


def _shares(counts: Counter[int], size: int) -> Counter[int]:
    """`size` split over the strata in proportion to `counts` (largest remainders get the rest)."""
    total = sum(counts.values())
    exact = {s: size * n / total for s, n in counts.items()}
    shares = Counter({s: int(v) for s, v in exact.items()})
    for s in sorted(exact, key=lambda s: (int(exact[s]) - exact[s], s))[: size - sum(shares.values())]:
        shares[s] += 1
    return shares


def subset_of_file(ann_file: Path, size: int | None, seed: int) -> list[int] | None:
    """The image ids of `stratified_subset` over an annotation file's images (classes of non-crowd boxes); None = all."""
    if size is None:
        return None
    coco = read_coco(ann_file)
    classes = {
        info["id"]: {a["category_id"] for a in coco.imgToAnns.get(info["id"], []) if not a.get("iscrowd")}
        for info in coco.dataset["images"]
    }
    return stratified_subset(classes, size, seed)
