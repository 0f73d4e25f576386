"""Bad input end to end, the model side: checkpoints, pretrained weights, the int8 export and exported
ONNX files, each through the real CLI (the table and its rules: `test_bad_input.py`)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from conftest import write_random_checkpoint

from reliability.bad_input import (
    MARKER,
    Assets,
    Case,
    Json,
    Outcome,
    check_case,
    eval_argv,
    train_argv,
)


class RunsCode:
    """Unpickling this runs a shell command: exactly what `weights_only=True` must refuse."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Callable[[str], int], tuple[str]]:
        return os.system, (f"touch {self.marker}",)


def malicious_checkpoint(tmp: Path) -> Path:
    path = tmp / "evil.pt"
    torch.save({"format": "fbnetv3od-checkpoint-v1", "model": RunsCode(tmp / MARKER)}, path)
    return path


def truncated_checkpoint(tmp: Path, assets: Assets) -> Path:
    path = tmp / "truncated.pt"
    content = assets.checkpoint.read_bytes()
    path.write_bytes(content[: len(content) // 2])
    return path


def checkpoint_with(tmp: Path, assets: Assets, change: Callable[[Json], None]) -> Path:
    """A copy of the tiny checkpoint with `change` applied to its dict."""
    data = torch.load(assets.checkpoint, weights_only=True)
    change(data)
    path = tmp / "changed.pt"
    torch.save(data, path)
    return path


def claim_arch(arch: str) -> Callable[[Json], None]:
    return lambda checkpoint: checkpoint["config"]["model"].update(arch=arch)


def bare_state_dict(checkpoint: Json) -> None:
    """Keep only the weights, as in a checkpoint of another tool (no format marker, no config)."""
    state = checkpoint.pop("model")
    checkpoint.clear()
    checkpoint.update(state)


def eval_checkpoint_case(make: Callable[[Path, Assets], Path], *expect: str, absent: tuple[str, ...] = (),
                         in_subprocess: bool = False) -> Case:
    return Case("detector.evaluate", lambda tmp, assets: eval_argv(tmp, assets, checkpoint=make(tmp, assets)),
                expect, absent=absent, in_subprocess=in_subprocess)


def int8_case(*extra: str, expect: tuple[str, ...], images: Callable[[Path, Assets], Path] | None = None,
              checkpoint: Callable[[Path, Assets], Path] | None = None, outcome: Outcome = "error") -> Case:
    """detector.export --int8 of the tiny checkpoint, calibrated on `images` (default: the data's images)."""

    def build(tmp: Path, assets: Assets) -> list[str]:
        folder = images(tmp, assets) if images else assets.data / "images"
        chosen = checkpoint(tmp, assets) if checkpoint else assets.checkpoint
        return ["--checkpoint", str(chosen), "--format", "onnx", "--int8", "--calibration-images", str(folder),
                "--output", str(tmp / "int8.onnx"), *extra]

    return Case("detector.export", build, expect, outcome, absent=("int8.onnx",) if outcome == "error" else ())


def images_folder(*contents: tuple[str, bytes]) -> Callable[[Path, Assets], Path]:
    """A folder holding the given (name, bytes) files."""

    def make(tmp: Path, assets: Assets) -> Path:
        folder = tmp / "calibration"
        folder.mkdir()
        for name, content in contents:
            (folder / name).write_bytes(content)
        return folder

    return make


def exported_model_case(make: Callable[[Path, Assets], Path], *expect: str) -> Case:
    def build(tmp: Path, assets: Assets) -> list[str]:
        return ["--model", str(make(tmp, assets)), "--data", str(assets.data), "--output", str(tmp / "eval.json")]

    return Case("detector.evaluate", build, expect, absent=("eval.json",))


def foreign_onnx(tmp: Path, assets: Assets) -> Path:
    """A valid ONNX file that detector.export did not write (a bare 1x1 convolution)."""
    path = tmp / "foreign.onnx"
    torch.onnx.export(torch.nn.Conv2d(3, 1, 1), (torch.rand(1, 3, 8, 8),), str(path), dynamo=False, input_names=["image"])
    return path


def weights_case(make: Callable[[Path, Assets], Path], *expect: str, absent: tuple[str, ...] = ()) -> Case:
    """detector.train starting from the checkpoint `make` writes (`model.weights`)."""
    return Case("detector.train",
                lambda tmp, assets: train_argv(tmp, assets, "--set", f"model.weights={make(tmp, assets)}"),
                expect, absent=("out", *absent))


def other_arch_weights(tmp: Path, assets: Assets) -> Path:
    return write_random_checkpoint(tmp / "fbnetv3_a.pt", model={"arch": "fbnetv3_a"})


# ------------------------------------------------------------------------------- the table


MODEL_CASES = [
    # checkpoints
    pytest.param(eval_checkpoint_case(lambda tmp, assets: tmp / "missing.pt", "checkpoint not found:", "missing.pt"),
                 id="checkpoint-missing"),
    pytest.param(eval_checkpoint_case(truncated_checkpoint,
                                      "truncated.pt: not a readable checkpoint (truncated, corrupt or not a torch file)"),
                 id="checkpoint-truncated"),
    pytest.param(eval_checkpoint_case(lambda tmp, assets: malicious_checkpoint(tmp),
                                      "evil.pt: refused to load: it would import posix.system", absent=(MARKER,),
                                      in_subprocess=True), id="checkpoint-pickle-runs-code"),
    pytest.param(weights_case(lambda tmp, assets: malicious_checkpoint(tmp),
                              "evil.pt: refused to load: it would import posix.system", absent=(MARKER,)),
                 id="weights-pickle-runs-code"),
    pytest.param(weights_case(other_arch_weights, "fbnetv3_a.pt does not fit this architecture", "differ in shape"),
                 id="weights-of-another-arch"),
    pytest.param(Case("detector.train", lambda tmp, assets: train_argv(tmp, assets, "--set", "model.weights=FBNetV3z COCO"),
                      ("model.weights: 'FBNetV3z COCO' is neither a registered name", "nor an existing file"),
                      absent=("out",)), id="weights-unknown-name"),
    pytest.param(eval_checkpoint_case(lambda tmp, assets: checkpoint_with(tmp, assets, claim_arch("fbnetv3_a")),
                                      "changed.pt does not fit this architecture"), id="checkpoint-weights-of-another-arch"),
    pytest.param(eval_checkpoint_case(lambda tmp, assets: checkpoint_with(tmp, assets, bare_state_dict),
                                      "changed.pt: not an FBNetV3OD training checkpoint"), id="checkpoint-without-format"),
    # int8 export and exported models
    pytest.param(int8_case(expect=("calibration", "holds no images"), images=images_folder(("notes.txt", b"no images here"))),
                 id="int8-no-calibration-images"),
    pytest.param(int8_case(expect=("--calibration-images:", "nowhere is not a folder"), images=lambda tmp, assets: tmp / "nowhere"),
                 id="int8-calibration-folder-missing"),
    pytest.param(int8_case(expect=("calibration image", "broken.jpg: cannot decode image"),
                           images=images_folder(("broken.jpg", b"these bytes are no image"))), id="int8-undecodable-image"),
    pytest.param(int8_case(expect=("changed.pt: not an FBNetV3OD training checkpoint",),
                           checkpoint=lambda tmp, assets: checkpoint_with(tmp, assets, bare_state_dict)),
                 id="int8-checkpoint-of-another-kind"),
    pytest.param(int8_case("--format", "torchscript", expect=("--int8 needs --format onnx",)), id="int8-torchscript"),
    pytest.param(Case("detector.export", lambda tmp, assets: ["--checkpoint", str(assets.checkpoint), "--format", "onnx", "--int8",
                                                             "--output", str(tmp / "int8.onnx")],
                      ("--int8 needs --calibration-images DIR",), absent=("int8.onnx",), in_subprocess=True),
                 id="int8-without-calibration-images"),
    pytest.param(int8_case("--calibration-count", "0", expect=("--calibration-count must be >= 1, got 0",)),
                 id="int8-calibration-count-zero"),
    pytest.param(int8_case(expect=(), outcome="ok"), id="int8-ok"),
    pytest.param(exported_model_case(lambda tmp, assets: tmp / "missing.onnx", "missing.onnx: model file not found"),
                 id="exported-model-missing"),
    pytest.param(exported_model_case(foreign_onnx, "foreign.onnx: not an FBNetV3OD export"), id="exported-model-foreign"),
    pytest.param(exported_model_case(lambda tmp, assets: truncated_checkpoint(tmp, assets),
                                     "truncated.pt: ONNX Runtime cannot load it"), id="exported-model-unreadable"),
]


@pytest.mark.parametrize("case", MODEL_CASES)
def test_bad_model_input(case: Case, assets: Assets, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    check_case(case, assets, tmp_path, capsys)
