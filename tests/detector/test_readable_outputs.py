"""Outputs a person can read and find: predictions drawn at a readable size with tags that stay inside the image and
off each other, predict on the images of one COCO split, the arch listing, and the TensorBoard folder named by train."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from conftest import write_random_checkpoint
from PIL import Image

from detector.data.synthetic import generate_synthetic_coco
from detector.evaluation.drawing import class_colors, draw_detections, layout_detections, place_labels

CLASSES = ["circle", "square", "triangle"]
GRAY = 128


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_a_small_image_is_drawn_upscaled_with_its_boxes_scaled() -> None:
    image = torch.full((3, 96, 128), GRAY, dtype=torch.uint8)
    box = torch.tensor([[30.0, 40.0, 90.0, 80.0]])
    drawn = draw_detections(image, box, torch.tensor([2]), torch.tensor([0.9]), CLASSES)
    assert drawn.shape == (3, 512, 683)  # short side 96 -> 512, aspect kept
    scale = 512 / 96
    square = torch.tensor(class_colors(3)[1], dtype=torch.uint8)
    left, top, right, bottom = (round(v * scale) for v in (30, 40, 90, 80))
    assert (drawn[:, (top + bottom) // 2, left + 1] == square).all() and (drawn[:, (top + bottom) // 2, right - 2] == square).all()
    assert (drawn[:, bottom - 2, (left + right) // 2] == square).all()
    assert (drawn[:, (top + bottom) // 2, (left + right) // 2] == GRAY).all()  # inside the box: the image
    assert (drawn[:, 60, 31] == GRAY).all()  # where the unscaled box's left edge would be: nothing drawn
    big = torch.full((3, 600, 800), GRAY, dtype=torch.uint8)
    assert draw_detections(big, box, torch.tensor([2]), torch.tensor([0.9]), CLASSES).shape == big.shape  # never downscaled


def test_overlapping_detections_get_tags_inside_the_image_that_do_not_overlap() -> None:
    # Two boxes on the same spot in the top-right corner: no room above them, tags would leave the image on the right.
    boxes = torch.tensor([[100.0, 0.0, 128.0, 30.0], [101.0, 1.0, 128.0, 31.0], [99.0, 2.0, 127.0, 29.0]])
    labels, scores = torch.tensor([1, 3, 2]), torch.tensor([0.9, 0.8, 0.7])
    layout = layout_detections(96, 128, boxes, labels, scores, CLASSES)
    height, width = layout.size
    assert layout.tags == ["circle 0.90", "triangle 0.80", "square 0.70"]
    for i, (x0, y0, x1, y1) in enumerate(layout.tag_rects):
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height, layout.tag_rects
        assert y1 - y0 >= 16 and x1 - x0 > 60  # readable text: >= 12 px font at 512 px
        assert not any(_overlap(layout.tag_rects[i], other) for other in layout.tag_rects[i + 1 :]), layout.tag_rects
    drawn = draw_detections(torch.full((3, 96, 128), GRAY, dtype=torch.uint8), boxes, labels, scores, CLASSES)
    palette = class_colors(3)
    for (x0, y0, x1, y1), label in zip(layout.tag_rects, labels.tolist()):  # each tag shows, in its own class colour
        fill = (drawn[:, y0:y1, x0:x1] == torch.tensor(palette[label - 1])[:, None, None]).all(dim=0).float().mean()
        assert fill > 0.5


def test_tags_go_above_their_box_and_stack_when_they_collide() -> None:
    boxes = [(50, 100, 200, 300), (52, 101, 200, 300), (400, 100, 500, 200)]
    rects = place_labels(boxes, [(80, 20)] * 3, width=640, height=480)
    assert rects[0] == (50, 80, 130, 100)  # on the box's top-left corner, above it
    assert rects[2] == (400, 80, 480, 100)  # another column: its own preferred spot
    assert not _overlap(rects[0], rects[1]) and abs(rects[1][1] - 80) == 20  # moved just clear of the first tag
    assert place_labels([(600, 5, 640, 50)], [(80, 20)], 640, 480) == [(560, 5, 640, 25)]  # inside the top, pulled left


def test_predict_with_a_coco_file_draws_only_its_images(tmp_path: Path) -> None:
    from detector.predict import main

    data = generate_synthetic_coco(tmp_path / "data", num_train=3, num_val=2, image_size=(48, 64))
    checkpoint = write_random_checkpoint(tmp_path / "tiny.pt", model={"arch": "fbnetv3_a_dsmask_tiny"})
    splits = {name: [img["file_name"] for img in json.loads((data / f"{name}.json").read_text())["images"]] for name in ("train", "val")}
    for flags, split in ((["--data", str(data), "--split", "val"], "val"), (["--json", str(data / "train.json")], "train")):
        out = tmp_path / f"out_{split}"
        main(["--checkpoint", str(checkpoint), *flags, "--output", str(out), "--score-thresh", "0.0", "--device", "cpu"])
        assert sorted(p.name for p in out.glob("*.png")) == sorted(f"{Path(n).stem}.png" for n in splits[split])
        assert {p["file_name"] for p in json.loads((out / "predictions.json").read_text())} <= set(splits[split])
        with Image.open(next(out.glob("*.png"))) as png:
            assert png.size == (683, 512)  # 64x48 drawn at a 512 px short side
    with pytest.raises(SystemExit) as refused:  # a split of what? one error line, before any work
        main(["--checkpoint", str(checkpoint), "--images", str(data / "images"), "--split", "val", "--output", str(tmp_path / "o")])
    assert refused.value.code == 2 and not (tmp_path / "o").exists()


def _arch_table(out: str) -> dict[str, tuple[str, str]]:
    """arch -> (params, FLOPs) as printed in the listing's table."""
    return {line.split()[0]: (line.split()[1], line.split()[2]) for line in out.splitlines() if line.startswith("  fbnet")}


def _counted(arch: str, **input_size: int) -> tuple[int, int]:
    """(FLOPs, params) of `arch`'s default config with 80 classes, as the search counts them (its `CostSpec.config()`)."""
    from detector.config import load_config
    from detector.modeling.flops import PartCosts

    data = {"model": {"arch": arch, "weights": None, "freeze_at": 0, "num_classes": 80}, "input": input_size}
    return PartCosts().detector(load_config(data))


def test_archs_lists_every_registered_arch_with_its_params_and_flops(capsys: pytest.CaptureFixture) -> None:
    from detector.archs import main
    from detector.modeling.backbones.registry import list_archs
    from detector.weights.registry import WEIGHTS

    assert main([]) is None  # no SystemExit: exit status 0
    out = capsys.readouterr().out
    rows = _arch_table(out)
    assert sorted(rows) == list_archs()
    assert all(p.endswith("M") and float(p[:-1]) > 0 and f.endswith("G") and float(f[:-1]) > 0 for p, f in rows.values())
    for name in ("fbnetv3_h", "fbnetv3_a_dsmask"):  # large numbers: 2 decimals show a 1% error
        flops, params = _counted(name)
        assert rows[name] == (f"{params / 1e6:.2f}M", f"{flops / 1e9:.2f}G")
    for column in (0, 1):  # params and FLOPs: the largest arch, a mid one, the tiny one
        h, a, tiny = (float(rows[name][column][:-1]) for name in ("fbnetv3_h", "fbnetv3_a", "fbnetv3_a_dsmask_tiny"))
        assert h > a > tiny
    assert "224x320 input with 30 RoIs" in out.splitlines()[0]  # the config's defaults, said where the numbers start
    assert all(any(line.lstrip().startswith(name) for line in out.splitlines()) for name in WEIGHTS)


def test_archs_flops_grow_with_the_input_size(capsys: pytest.CaptureFixture) -> None:
    from detector.archs import main

    tables = {}
    for size in ((224, 320), (800, 1333)):
        main(["fbnetv3_a", "--input-size", *map(str, size)])
        out = capsys.readouterr().out
        assert f"{size[0]}x{size[1]} input" in out.splitlines()[0]
        tables[size] = _arch_table(out)["fbnetv3_a"]
    (small_params, small_flops), (large_params, large_flops) = tables[(224, 320)], tables[(800, 1333)]
    assert small_params == large_params  # the weights do not depend on the image
    assert float(large_flops[:-1]) > 2 * float(small_flops[:-1])
    assert large_flops == f"{_counted('fbnetv3_a', min_size=800, max_size=1333)[0] / 1e9:.2f}G"


@pytest.mark.parametrize("size", [("16", "320"), ("400", "300")], ids=["too-small", "min-above-max"])
def test_archs_bad_input_size_is_one_error_line(size: tuple[str, str], capsys: pytest.CaptureFixture) -> None:
    from detector.archs import main

    with pytest.raises(SystemExit) as exit_info:
        main(["fbnetv3_a", "--input-size", *size])
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert exit_info.value.code == 2 and len(lines) == 1 and not captured.out  # refused before any row
    assert lines[0].startswith("error: --input-size") and ">= 32" in lines[0] and " ".join(size) in lines[0]


def test_train_closing_lines_name_the_tensorboard_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture) -> None:
    """What `detector.train` prints after a run whose engine wrote TensorBoard events (the engine itself is stubbed:
    the closing lines are under test, not the training)."""
    from detector.train import main

    data = generate_synthetic_coco(tmp_path / "data", num_train=2, num_val=1, image_size=(32, 32))
    out = tmp_path / "run"

    def fake_train(config, paths, output, **kwargs):
        (output / "tb").mkdir(parents=True)
        (output / "model_final.pt").write_bytes(b"")
        return SimpleNamespace(output_dir=output, already_complete=False, metrics={"ap": 1.0}, test_metrics={}, stopped_early=False,
                               epochs_completed=1, global_step=1)

    monkeypatch.setattr("detector.training.engine.train", fake_train)
    main(["--data", str(data), "--output", str(out), "--set", "model.weights=null", "model.freeze_at=0"])
    printed = capsys.readouterr().out
    assert f"tensorboard --logdir {out / 'tb'}" in printed and "  tb/ " in printed
