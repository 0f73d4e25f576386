"""The evaluation report's contents: per-class AP/AP50 with counts (checked against COCOeval restricted to one
category), the confusion matrix on a hand-made case, and the figures `detector.evaluate` writes beside its JSON."""

from __future__ import annotations

import contextlib
import io
import json
import random
from pathlib import Path

import pytest
import torch
from conftest import write_random_checkpoint
from PIL import Image
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from detector.data.dataset import CocoDetection
from detector.evaluate import main
from detector.evaluation.coco import evaluate_results, format_metrics_table
from detector.evaluation.confusion import confusion_matrix, match_boxes
from detector.evaluation.figures import figure_paths, write_report_figures
from helpers.tiny import TINY_CONFIG, make_synthetic


@pytest.fixture(scope="module")
def val_set(tmp_path_factory: pytest.TempPathFactory) -> CocoDetection:
    """Synthetic validation images with category ids 10, 20, 30 (labels must be mapped) and one crowd box."""
    root = make_synthetic(tmp_path_factory.mktemp("synthetic"), num_train=1, num_val=8)
    data = json.loads((root / "val.json").read_text())
    for cat in data["categories"]:
        cat["id"] *= 10
    for ann in data["annotations"]:
        ann["category_id"] *= 10
    crowd = dict(data["annotations"][0], id=10_000, iscrowd=1)
    data["annotations"].append(crowd)  # ignored by COCOeval, so not an instance
    (root / "val_ids.json").write_text(json.dumps(data))
    return CocoDetection(root / "val_ids.json", root / "images")


def _noisy_results(dataset: CocoDetection, seed: int = 0) -> list[dict]:
    """Detection records between perfect and useless: moved boxes, some wrong classes, some boxes of nothing."""
    rng = random.Random(seed)
    results = []
    for image_id in dataset.image_ids:
        for ann in dataset.coco.imgToAnns[image_id]:
            if ann.get("iscrowd") or rng.random() < 0.2:
                continue  # missed
            x, y, w, h = ann["bbox"]
            shift = rng.uniform(-0.45, 0.45) * w  # IoU 0.38..1: AP50 differs from AP at 0.55 and above
            category = ann["category_id"] if rng.random() < 0.8 else rng.choice(sorted(dataset.coco.cats))
            results.append({"image_id": image_id, "category_id": category, "bbox": [x + shift, y, w, h], "score": rng.random()})
        for _ in range(2):
            results.append({"image_id": image_id, "category_id": rng.choice(sorted(dataset.coco.cats)),
                            "bbox": [rng.uniform(0, 80), rng.uniform(0, 60), 20, 20], "score": rng.random() * 0.6})
    return results


def _cocoeval_one_category(annotations: Path, results: list[dict], category_id: int) -> tuple[float, float]:
    """(AP, AP50) in percent that pycocotools gives the category on its own."""
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(annotations))
        evaluator = COCOeval(coco, coco.loadRes(results), "bbox")
        evaluator.params.catIds = [category_id]
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator.stats[0] * 100, evaluator.stats[1] * 100


def test_per_class_ap_and_counts_match_cocoeval_per_category_and_the_file(val_set: CocoDetection) -> None:
    results = _noisy_results(val_set)
    evaluation = evaluate_results(val_set.coco, results, val_set.image_ids, val_set.class_names, val_set.label_to_category_id)
    rows = {row["class"]: row for row in evaluation.per_class}
    assert list(rows) == [*val_set.class_names, "all"]
    data = json.loads(val_set.ann_file.read_text())
    instances = [a for a in data["annotations"] if not a.get("iscrowd")]
    for label, name in enumerate(val_set.class_names, start=1):
        category_id = val_set.label_to_category_id[label]
        ap, ap50 = _cocoeval_one_category(val_set.ann_file, results, category_id)
        assert (rows[name]["ap"], rows[name]["ap50"]) == pytest.approx((ap, ap50), abs=1e-9)
        mine = [a for a in instances if a["category_id"] == category_id]
        assert rows[name]["instances"] == len(mine) and rows[name]["images"] == len({a["image_id"] for a in mine})
        assert evaluation.metrics["per_class_ap"][name] == rows[name]["ap"]
    assert 10.0 < evaluation.metrics["ap50"] < 95.0  # the noise leaves something to measure
    assert (rows["all"]["ap"], rows["all"]["ap50"]) == pytest.approx((evaluation.metrics["ap"], evaluation.metrics["ap50"]))
    assert rows["all"]["instances"] == len(instances) and rows["all"]["images"] == len(data["images"])
    table = format_metrics_table(evaluation.metrics, evaluation.per_class)
    assert table.splitlines()[-len(rows) - 1].split() == ["class", "images", "instances", "AP", "AP50"]
    assert table.splitlines()[-1].split()[:3] == ["all", str(len(data["images"])), str(len(instances))]


def _boxes(*xyxy: tuple[float, ...]) -> torch.Tensor:
    return torch.tensor(xyxy, dtype=torch.float32).reshape(-1, 4)


def _detections(boxes: torch.Tensor, labels: list[int], scores: list[float]) -> dict[str, torch.Tensor]:
    return {"boxes": boxes, "labels": torch.tensor(labels, dtype=torch.int64), "scores": torch.tensor(scores)}


def test_confusion_matrix_counts_a_hand_made_case() -> None:
    """Three classes; row = true class, column = predicted, index 3 = background (misses / false alarms)."""
    a, b, c = (0, 0, 10, 10), (20, 20, 30, 30), (40, 40, 50, 50)
    ground_truth = [(_boxes(a, b, c), torch.tensor([1, 2, 3])), (_boxes(a), torch.tensor([2])),
                    (_boxes(), torch.tensor([], dtype=torch.int64)), (_boxes(a), torch.tensor([1]))]
    detections = [
        # 1 found as 1; 2 found as 1; a 2 where nothing is; the 3 scores below the threshold, so it is missed
        _detections(_boxes(a, b, (60, 60, 70, 70), c), [1, 1, 2, 3], [0.9, 0.8, 0.7, 0.1]),
        # a 3 overlapping the 2 more (IoU 1) than the right-class detection (IoU 0.82): the 2 is found, the 3 is a false alarm
        _detections(_boxes(a, (0, 1, 10, 11)), [3, 2], [0.6, 0.5]),
        _detections(_boxes((0, 0, 5, 5)), [1], [0.3]),  # a 1 on an empty image
        _detections(_boxes(), [], []),  # the 1 is missed
    ]
    matrix = confusion_matrix(ground_truth, detections, num_classes=3, iou_thresh=0.5, score_thresh=0.25)
    assert matrix.tolist() == [
        [1, 0, 0, 1],
        [1, 1, 0, 0],
        [0, 0, 0, 1],
        [1, 1, 1, 0],
    ]
    assert confusion_matrix(ground_truth, detections, num_classes=3, score_thresh=0.05)[2].tolist() == [0, 0, 1, 0]


def test_matching_is_one_to_one_and_not_greedy() -> None:
    """x overlaps both objects and g1 most (0.82); y overlaps only g1 (0.67). Greedy by IoU gives x to g1 and leaves
    g2 and y unmatched; the assignment matches both."""
    g1, g2 = (0, 0, 10, 10), (4, 0, 14, 10)
    x, y = (1, 0, 11, 10), (0, 2, 10, 12)
    same = torch.tensor([1, 1])
    assert sorted(match_boxes(_boxes(g1, g2), same, _boxes(x, y), same, 0.5)) == [(0, 1), (1, 0)]
    assert match_boxes(_boxes(g1), same[:1], _boxes((20, 20, 30, 30)), same[:1], 0.5) == []


def _assert_png(path: Path, min_width: int, min_height: int) -> None:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as image:
        width, height = image.size
    assert min_width <= width <= 4000 and min_height <= height <= 8000, (path.name, width, height)


def test_figures_are_pngs_named_after_the_report(val_set: CocoDetection, tmp_path: Path) -> None:
    results = _noisy_results(val_set)
    evaluation = evaluate_results(val_set.coco, results, val_set.image_ids, val_set.class_names, val_set.label_to_category_id)
    report = tmp_path / "eval_test.json"
    written = write_report_figures(evaluation, val_set, report, num_samples=2)
    paths = figure_paths(report)
    assert written == [paths["pr_curve"], paths["confusion"], paths["samples"]]
    assert [p.name for p in written] == ["eval_test_pr_curve.png", "eval_test_confusion.png", "eval_test_samples.png"]
    _assert_png(paths["pr_curve"], 800, 500)
    _assert_png(paths["confusion"], 500, 500)
    _assert_png(paths["samples"], 2 * 683, 2 * 512)  # 2 rows of two 128x96 images drawn at 683x512
    nothing = evaluate_results(val_set.coco, [], val_set.image_ids, val_set.class_names, val_set.label_to_category_id)
    written = write_report_figures(nothing, val_set, tmp_path / "none.json", num_samples=0)  # no detections, no sheet
    assert [p.name for p in written] == ["none_pr_curve.png", "none_confusion.png"]


def test_the_cli_writes_per_class_rows_and_figures(val_set: CocoDetection, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    checkpoint = write_random_checkpoint(tmp_path / "tiny.pt", model=TINY_CONFIG["model"])  # category ids 1..3, as val.json
    val_json = val_set.ann_file.with_name("val.json")
    args = ["--checkpoint", str(checkpoint), "--json", str(val_json), "--device", "cpu", "--samples", "2"]
    report = main([*args, "--output", str(tmp_path / "eval_val.json")])
    out = capsys.readouterr().out
    written = json.loads((tmp_path / "eval_val.json").read_text())["per_class"]
    assert [row["class"] for row in written] == [row["class"] for row in report["per_class"]] == [*val_set.class_names, "all"]
    assert written[-1]["instances"] == len(json.loads(val_json.read_text())["annotations"]) and written[-1]["images"] == len(val_set)
    for path in figure_paths(tmp_path / "eval_val.json").values():
        assert f"wrote {path}" in out
        _assert_png(path, 400, 400)
    main([*args, "--output", str(tmp_path / "quiet.json"), "--no-plots"])
    assert sorted(p.name for p in tmp_path.glob("quiet*")) == ["quiet.json"]
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--score-thresh", "1.5"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.count("\n") == 1 and "--score-thresh must be in [0, 1]" in err and "1.5" in err
