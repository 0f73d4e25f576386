"""COCO evaluation: label -> category id mapping, percent scale, no-detection and undefined cases."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from torch import nn

from _tiny import make_synthetic
from detector.data import CocoDetection
from detector.evaluate import evaluate_coco, format_metrics_table, json_safe


class ReplayModel(nn.Module):
    """Stands in for a detector: returns fixed predictions per image, in data-set order."""

    def __init__(self, predictions: list[dict[str, torch.Tensor]]) -> None:
        super().__init__()
        self.predictions = predictions
        self.calls = 0

    def forward(self, images: list[torch.Tensor]) -> list[dict[str, torch.Tensor]]:
        out = self.predictions[self.calls : self.calls + len(images)]
        self.calls += len(images)
        return out


@pytest.fixture(scope="module")
def val_set(tmp_path_factory: pytest.TempPathFactory) -> CocoDetection:
    root = make_synthetic(tmp_path_factory.mktemp("synthetic"), num_train=1, num_val=6)
    data = json.loads((root / "val.json").read_text())
    for cat in data["categories"]:  # category ids with gaps: labels must be mapped back
        cat["id"] *= 10
    for ann in data["annotations"]:
        ann["category_id"] *= 10
    (root / "val_gaps.json").write_text(json.dumps(data))
    return CocoDetection(root / "val_gaps.json", root / "images")


def _ground_truth(dataset: CocoDetection, score: float = 0.9) -> list[dict[str, torch.Tensor]]:
    predictions = []
    for i in range(len(dataset)):
        target = dataset[i][1]
        n = len(target["labels"])
        predictions.append({"boxes": target["boxes"].as_subclass(torch.Tensor), "labels": target["labels"],
                            "scores": torch.full((n,), score)})
    return predictions


def test_perfect_predictions_score_100_with_labels_mapped_to_category_ids(val_set: CocoDetection) -> None:
    assert val_set.label_to_category_id == {1: 10, 2: 20, 3: 30}
    model = ReplayModel(_ground_truth(val_set)).train()
    metrics = evaluate_coco(model, val_set, batch_size=4, progress=False)
    assert model.training  # mode restored
    assert metrics["ap"] == pytest.approx(100.0) and metrics["ap50"] == pytest.approx(100.0)
    assert metrics["per_class_ap"] == pytest.approx({"circle": 100.0, "square": 100.0, "triangle": 100.0})
    assert math.isnan(metrics["apl"])  # no large objects in these images: undefined, not 0


def test_wrong_labels_score_zero(val_set: CocoDetection) -> None:
    predictions = _ground_truth(val_set)
    for p in predictions:
        p["labels"] = p["labels"] % 3 + 1  # every box gets another class
    metrics = evaluate_coco(ReplayModel(predictions), val_set, progress=False)
    assert metrics["ap"] == 0.0


def test_no_detections_give_zero_ap_not_an_error(val_set: CocoDetection) -> None:
    empty = {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64), "scores": torch.zeros(0)}
    metrics = evaluate_coco(ReplayModel([empty] * len(val_set)), val_set, progress=False)
    assert metrics["ap"] == 0.0 and metrics["ap50"] == 0.0
    assert set(metrics["per_class_ap"].values()) == {0.0}
    table = format_metrics_table(metrics)
    assert "AP50" in table and "triangle" in table and "n/a" in table  # APl undefined
    assert json.loads(json.dumps(json_safe(metrics)))["apl"] is None


def test_evaluates_a_real_detector(val_set: CocoDetection, tmp_path: Path) -> None:
    from _tiny import TINY_CONFIG
    from detector.model import build_detector

    torch.manual_seed(0)
    model = build_detector(TINY_CONFIG, num_classes=3)
    metrics = evaluate_coco(model, val_set, batch_size=3, progress=False)
    assert set(metrics) == {"ap", "ap50", "ap75", "aps", "apm", "apl", "per_class_ap"}
    assert 0.0 <= metrics["ap"] <= 100.0
