"""COCO evaluation: label -> category id mapping, percent scale, no-detection and undefined cases."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
from pathlib import Path

import pytest
import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from torch import nn
from torchvision.ops import box_convert

from detector.data.dataset import CocoDetection
from detector.evaluation.coco import evaluate_coco, format_metrics_table, json_safe
from helpers.tiny import make_synthetic


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


class Recording(nn.Module):
    """The detector, keeping every image it is given and what it returned for it."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.seen: list[tuple[torch.Tensor, dict[str, torch.Tensor]]] = []

    def forward(self, images: list[torch.Tensor]) -> list[dict[str, torch.Tensor]]:
        outputs = self.model(images)
        self.seen += [(image.cpu(), {k: v.cpu() for k, v in out.items()}) for image, out in zip(images, outputs)]
        return outputs


def _pycocotools_stats(annotations: Path, results: list[dict]) -> list[float]:
    """AP, AP50, AP75, APs, APm, APl in percent as pycocotools computes them (-100: undefined)."""
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(annotations))
        evaluator = COCOeval(coco, coco.loadRes(results), "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return [float(v) * 100 for v in evaluator.stats[:6]]


def test_evaluates_a_real_detector(val_set: CocoDetection, tmp_path: Path) -> None:
    """The AP of a real detector's outputs is the AP pycocotools gives those outputs, converted here.

    A random model detects nothing real, so the ground truth is made from its own three strongest detections per
    image, moved by 0.4-3.9 px: AP is then far from 0 and from 100, and depends on every box coordinate (IoU
    levels 0.5-0.95), on the order of the scores and on the image each detection belongs to."""
    from detector.modeling.model import build_detector
    from helpers.tiny import TINY_CONFIG

    config = copy.deepcopy(TINY_CONFIG)
    config["model"]["roi_heads"]["score_thresh"] = 0.0
    torch.manual_seed(0)
    model = build_detector(config, num_classes=3).eval()
    images = [val_set[i][0].as_subclass(torch.Tensor) for i in range(len(val_set))]
    data = json.loads(val_set.ann_file.read_text())
    data["annotations"] = []
    with torch.inference_mode():
        for image_id, image in zip(val_set.image_ids, images):
            out = model([image])[0]
            size = torch.tensor(image.shape[-1:-3:-1]).repeat(2)  # W, H, W, H
            for k in range(3):
                x0, y0, x1, y1 = (out["boxes"][k] + torch.tensor([0.7, -0.6, 1.3, 0.4]) * (k + 1)).clamp(min=0).minimum(size).tolist()
                data["annotations"].append({"id": len(data["annotations"]) + 1, "image_id": image_id, "iscrowd": 0,
                                            "category_id": val_set.label_to_category_id[int(out["labels"][k])],
                                            "bbox": [x0, y0, x1 - x0, y1 - y0], "area": (x1 - x0) * (y1 - y0)})
    annotations = tmp_path / "made_from_the_model.json"
    annotations.write_text(json.dumps(data))
    dataset = CocoDetection(annotations, val_set.image_dir)

    recording = Recording(model)
    metrics = evaluate_coco(recording, dataset, batch_size=4, progress=False)
    assert set(metrics) == {"ap", "ap50", "ap75", "aps", "apm", "apl", "per_class_ap"}
    results = []
    for image, out in recording.seen:
        index = next(i for i, known in enumerate(images) if torch.equal(image, known))
        xywh = box_convert(out["boxes"], "xyxy", "xywh")
        for box, label, score in zip(xywh.tolist(), out["labels"].tolist(), out["scores"].tolist()):
            # a thousandth of a pixel, as evaluate_coco writes boxes: an IoU at a threshold would otherwise tip
            results.append({"image_id": dataset.image_ids[index], "category_id": dataset.label_to_category_id[label],
                            "bbox": [round(v, 3) for v in box], "score": score})
    assert len(recording.seen) == len(dataset) and len(results) > 10 * len(dataset)
    expected = _pycocotools_stats(annotations, results)
    got = [metrics[k] if not math.isnan(metrics[k]) else -100.0 for k in ("ap", "ap50", "ap75", "aps", "apm", "apl")]
    assert got == pytest.approx(expected, abs=1e-9)
    assert 5.0 < metrics["ap"] < 95.0 and metrics["ap50"] > metrics["ap"]
