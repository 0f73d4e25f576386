"""A search's data slice: seeded, class-stratified, and each annotation file parsed once per process."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from detector.config import load_config
from detector.data import coco_json
from detector.data.dataset import CocoDetection
from detector.data.paths import resolve_data_paths
from detector.data.run_sets import load_datasets
from detector.data.subset import stratified_subset, subset_of_file
from helpers.tiny import make_synthetic, tiny_config
from nars.config.experiment import Experiment


def skewed_classes(n: int = 1000, seed: int = 0) -> dict[int, set[int]]:
    """Image id -> classes: class 0 in most images, classes 1-3 rarer, class 4 in 3 images, some images empty."""
    rng = np.random.default_rng(seed)
    shares = [0.8, 0.3, 0.1, 0.05]
    images = {i: {c for c, p in enumerate(shares) if rng.random() < p} for i in range(n)}
    for i in (5, 500, 900):
        images[i].add(4)
    return images


def share(images: dict[int, set[int]], ids: list[int]) -> dict[int, float]:
    counts = Counter(c for i in ids for c in images[i])
    return {c: counts[c] / len(ids) for c in range(5)}


def test_size_and_determinism():
    images = skewed_classes()
    picked = stratified_subset(images, 100, seed=3)
    assert len(picked) == len(set(picked)) == 100 and set(picked) <= set(images) and picked == sorted(picked)
    assert stratified_subset(images, 100, seed=3) == picked
    assert stratified_subset(dict(reversed(list(images.items()))), 100, seed=3) == picked, "input order does not matter"
    assert stratified_subset(images, 100, seed=4) != picked
    assert stratified_subset(images, 5000, seed=3) == sorted(images)


def test_every_class_keeps_about_its_share_and_at_least_one_image():
    images = skewed_classes()
    full = share(images, list(images))
    for seed in range(5):
        picked = stratified_subset(images, 100, seed=seed)
        sliced = share(images, picked)
        assert all(sliced[c] > 0 for c in range(5)), "the class in 3 of 1000 images is kept"
        assert all(abs(sliced[c] - full[c]) <= 0.06 for c in range(4)), (sliced, full)
        assert 0 < sum(not images[i] for i in picked) < 25, "background-only images keep about their share too"


def test_a_slice_smaller_than_the_class_count_keeps_the_rarest_classes():
    images = {1: {0}, 2: {0}, 3: {0, 1}, 4: {2}, 5: {0}}
    assert set().union(*(images[i] for i in stratified_subset(images, 2, seed=0))) >= {1, 2}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_synthetic(tmp_path_factory.mktemp("subset"), num_train=12, num_val=6)


def test_each_annotation_file_is_parsed_once_per_process(data, monkeypatch):
    parsed: list[Path] = []
    real = coco_json._read_json
    monkeypatch.setattr(coco_json, "_read_json", lambda path: parsed.append(path) or real(path))
    coco_json._parse_once.cache_clear()
    first = CocoDetection(data / "train.json", data / "images")
    second = CocoDetection(data / "train.json", data / "images", image_ids=subset_of_file(data / "train.json", 4, seed=0))
    assert parsed == [data / "train.json"] and len(first) == 12 and len(second) == 4
    coco = json.loads((data / "train.json").read_text())
    last = coco["images"][-1]["id"]
    changed = {**coco, "images": coco["images"][:-1], "annotations": [a for a in coco["annotations"] if a["image_id"] != last]}
    try:
        (data / "train.json").write_text(json.dumps(changed))  # a changed file is parsed again
        assert len(CocoDetection(data / "train.json", data / "images")) == 11 and len(parsed) == 2
    finally:
        (data / "train.json").write_text(json.dumps(coco))


def test_trials_train_and_evaluate_on_the_slices(data):
    paths = resolve_data_paths(data_dir=data)
    config = load_config(tiny_config())
    train_set, val_set = load_datasets(config, replace(paths, max_train_images=5, max_val_images=2))
    assert len(train_set) == 5 and val_set is not None and len(val_set) == 2
    full_train, full_val = load_datasets(config, paths)
    assert len(full_train) == 12 and full_val is not None and len(full_val) == 6


def test_experiment_data_slice_settings(data, tmp_path):
    experiment = Experiment.model_validate({"data": {"dir": str(data), "max_train_images": 5, "max_val_images": 2}, "search": {"seed": 7}})
    paths = experiment.data_paths(tmp_path)
    assert (paths.max_train_images, paths.max_val_images, paths.subset_seed) == (5, 2, 7)
    with pytest.raises(ValueError, match="max_train_images"):
        Experiment.model_validate({"data": {"dir": str(data), "max_train_images": 0}})
