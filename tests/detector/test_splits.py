"""Splits: `detector.evaluate --split train|val|test` and `--json/--images`, each report named after its split, and
`detector.train` with a held-out test split that it evaluates once at the end and never reads while training."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from helpers.cli import one_line_error, run
from helpers.tiny import make_synthetic, tiny_config

METRICS = ("ap", "ap50", "ap75", "aps", "apm", "apl")


def _add_test_split(data: Path, other: Path) -> list[str]:
    """Write DIR/test.json: the val images of another synthetic set (same classes, other pixels), copied into
    DIR/images as test_*.png with fresh ids; returns their file names."""
    test = json.loads((other / "val.json").read_text())
    new_id = {image["id"]: image["id"] + 1000 for image in test["images"]}
    for image in test["images"]:
        name = image["file_name"].replace("val_", "test_")
        shutil.copy(other / "images" / image["file_name"], data / "images" / name)
        image["id"], image["file_name"] = new_id[image["id"]], name
    for ann in test["annotations"]:
        ann["id"], ann["image_id"] = ann["id"] + 1000, new_id[ann["image_id"]]
    (data / "test.json").write_text(json.dumps(test))
    return [image["file_name"] for image in test["images"]]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One tiny training (1 epoch) on `--data DIR` holding test.json, with the name of every image file it decoded,
    in order, and what it printed."""
    import detector.data.dataset as dataset_module
    from detector.train import main

    root = tmp_path_factory.mktemp("splits")
    data = make_synthetic(root / "data")
    test_names = _add_test_split(data, make_synthetic(root / "other", num_train=1, num_val=3, max_objects=2))
    config = root / "tiny.yaml"
    settings = tiny_config(epochs=1)
    settings["model"]["roi_heads"]["score_thresh"] = 0.0  # every detection counts: AP is far from 0 after one epoch
    config.write_text(yaml.safe_dump(settings))
    loaded: list[str] = []
    load = dataset_module.load_rgb_image

    def recording_load(path: Path) -> Any:
        loaded.append(Path(path).name)
        return load(path)

    out, stdout = root / "run", io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(stdout):
        patch.setattr(dataset_module, "load_rgb_image", recording_load)
        main(["--config", str(config), "--data", str(data), "--output", str(out), "--device", "cpu", "--no-progress"])
    return {"data": data, "out": out, "test_names": test_names, "loaded": loaded, "stdout": stdout.getvalue()}


def _evaluate(*argv: str) -> dict[str, Any]:
    from detector.evaluate import main

    with contextlib.redirect_stdout(io.StringIO()):
        return main([*argv, "--device", "cpu", "--no-plots"])


def test_training_holds_the_test_split_out_and_evaluates_it_once_at_the_end(trained: dict[str, Any], tmp_path: Path) -> None:
    loaded, test_names = trained["loaded"], set(trained["test_names"])
    first_test = min(i for i, name in enumerate(loaded) if name in test_names)
    assert all(name not in test_names for name in loaded[:first_test]) and first_test >= 12  # 8 train + 4 val images before
    evaluated = loaded[first_test : first_test + len(test_names)]
    assert sorted(evaluated) == sorted(test_names)  # after training and the val evaluation: each test image once
    assert set(loaded[first_test + len(test_names) :]) <= test_names  # then the samples sheet draws some of them again
    for figure in ("pr_curve", "confusion", "samples"):  # the figures detector.evaluate draws
        assert (trained["out"] / f"eval_test_{figure}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", figure
    records = [json.loads(line) for line in (trained["out"] / "metrics.jsonl").read_text().splitlines()]
    assert len(records) == 1 and "ap" in records[0]

    report = json.loads((trained["out"] / "eval_test.json").read_text())
    assert report["split"] == "test" and report["num_images"] == 3
    assert report["annotations"] == str((trained["data"] / "test.json").resolve())
    closing = next(line for line in trained["stdout"].splitlines() if line.startswith("training complete"))
    assert f"val AP {records[0]['ap']:.2f}; test AP {report['ap']:.2f}" in closing
    assert "eval_test.json" in trained["stdout"]

    # the same figures and format as detector.evaluate --split test of model_final.pt
    _evaluate("--checkpoint", str(trained["out"] / "model_final.pt"), "--data", str(trained["data"]), "--split", "test",
              "--output", str(tmp_path / "separate.json"))
    separate = json.loads((tmp_path / "separate.json").read_text())
    assert set(separate) == set(report) and separate["batch_size"] == report["batch_size"] and separate["weights"] == report["weights"]
    for key in METRICS:
        assert report[key] == separate[key] is None or report[key] == pytest.approx(separate[key], abs=1e-6), key
    assert report["per_class_ap"] == pytest.approx(separate["per_class_ap"], abs=1e-6)
    assert 1.0 < report["ap"] and report["ap"] != pytest.approx(records[0]["ap"])  # the test images are not the val ones


def test_a_complete_run_evaluates_a_new_test_split_without_training(trained: dict[str, Any], tmp_path: Path) -> None:
    from detector.train import main

    out = tmp_path / "run"
    shutil.copytree(trained["out"], out)
    (out / "eval_test.json").unlink()
    last = (out / "last.pt").stat().st_mtime_ns
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        main(["--data", str(trained["data"]), "--output", str(out), "--resume", "--device", "cpu", "--no-progress"])
    report = json.loads((out / "eval_test.json").read_text())
    assert f"already complete (1 epochs); nothing to train (raise --epochs to train longer); test AP {report['ap']:.2f}" in stdout.getvalue()
    assert report["split"] == "test"
    assert (out / "last.pt").stat().st_mtime_ns == last
    assert (out / "metrics.jsonl").read_text() == (trained["out"] / "metrics.jsonl").read_text()


def test_evaluate_names_each_report_after_its_split(trained: dict[str, Any], tmp_path: Path) -> None:
    checkpoint = tmp_path / "model_final.pt"
    shutil.copy(trained["out"] / "model_final.pt", checkpoint)
    data = trained["data"]
    _evaluate("--checkpoint", str(checkpoint), "--data", str(data))
    val_report = (tmp_path / "eval_val.json").read_text()
    assert json.loads(val_report)["split"] == "val"

    _evaluate("--checkpoint", str(checkpoint), "--data", str(data), "--split", "test")
    report = json.loads((tmp_path / "eval_test.json").read_text())
    assert report["split"] == "test" and report["num_images"] == 3
    assert (tmp_path / "eval_val.json").read_text() == val_report  # a test evaluation never overwrites the val one

    # any annotation file: the split is its stem; images default to images/ beside it; --val-json is the old name
    shutil.copy(data / "test.json", data / "holdout.json")
    for flag in ("--json", "--val-json"):
        _evaluate("--checkpoint", str(checkpoint), flag, str(data / "holdout.json"))
        named = json.loads((tmp_path / "eval_holdout.json").read_text())
        assert named["split"] == "holdout" and named["ap"] == report["ap"]
        (tmp_path / "eval_holdout.json").unlink()
    pictures = tmp_path / "pictures"
    shutil.copytree(data / "images", pictures)
    moved = _evaluate("--checkpoint", str(checkpoint), "--json", str(data / "train.json"), "--images", str(pictures))
    assert moved["split"] == "train" and moved["num_images"] == 8 and (tmp_path / "eval_train.json").is_file()


def test_a_missing_test_split_is_one_line_naming_the_file_and_the_layout(trained: dict[str, Any], tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(trained["data"], data)
    (data / "test.json").unlink()
    error = one_line_error(run("-m", "detector.evaluate", "--checkpoint", str(trained["out"] / "model_final.pt"), "--data", str(data),
                               "--split", "test"))
    assert f"missing test annotations {(data / 'test.json').resolve()}" in error and "optional DIR/test.json" in error
