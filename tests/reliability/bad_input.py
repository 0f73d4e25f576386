"""The machinery of the bad-input tables (`test_bad_input.py`: data, config and search;
`test_bad_input_models.py`: checkpoints, weights, int8 export and exported models): the shared
valid inputs, a case, how a case runs, and what the user must see."""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest
import yaml
from conftest import write_random_checkpoint

from helpers.tiny import CLI_ENV, REPO, make_synthetic, tiny_config

TINY_ARCH = {"arch": "fbnetv3_a_dsmask_tiny", "norm": "BN"}
MARKER = "PWNED"  # what the malicious pickle would create
SUCCESS = {"detector.train": "training complete: 1 epoch", "detector.evaluate": "wrote ", "detector.export": "quantized to int8"}

Json = dict[str, Any]
Outcome = Literal["error", "warning", "ok"]


@dataclass(frozen=True)
class Assets:
    """Valid inputs shared by the cases; a case copies what it breaks."""

    data: Path  # synthetic COCO: 4 train images (ids 1-4), 2 val images (ids 5, 6), categories 1-3
    config: Path  # the tiny training config, 1 epoch
    checkpoint: Path  # random-weight tiny detector for the data's 3 classes
    experiment: Path  # the quickstart search on `data`


Build = Callable[[Path, Assets], list[str]]  # writes a case's input under the folder, returns the CLI arguments


@dataclass(frozen=True)
class Case:
    cli: str  # module run as `python -m <cli>`
    build: Build
    expect: tuple[str, ...] = ()  # fragments of the single error or warning line
    outcome: Outcome = "error"  # error: exit 2, one error line; warning: exit 0, one warning line; ok: exit 0, neither
    absent: tuple[str, ...] = ()  # paths, relative to the case folder, that the run must not create
    in_subprocess: bool = False  # run `python -m <cli>` instead of `main(argv)` in this process
    check: Callable[[], None] | None = None  # a further assertion after the run


def make_assets(root: Path) -> Assets:
    """The valid inputs every case starts from, written under `root`."""
    data = make_synthetic(root / "data", num_train=4, num_val=2)
    config = root / "tiny.yaml"
    config.write_text(yaml.safe_dump(tiny_config(epochs=1, warmup_iters=1)))  # 2 iterations: a warmup that fits the run
    experiment = yaml.safe_load((REPO / "experiments" / "quickstart_search.yaml").read_text())
    experiment.update(data={"dir": str(data)}, output=None)
    experiment_path = root / "search.yaml"
    experiment_path.write_text(yaml.safe_dump(experiment))
    checkpoint = write_random_checkpoint(root / "tiny.pt", model=TINY_ARCH)
    return Assets(data=data, config=config, checkpoint=checkpoint, experiment=experiment_path)


# ------------------------------------------------------------------------------- input builders


def train_argv(tmp: Path, assets: Assets, *extra: str, data: Path | None = None, config: Path | None = None) -> list[str]:
    return ["--config", str(config or assets.config), "--data", str(data or assets.data), "--output", str(tmp / "out"),
            "--device", "cpu", "--no-progress", *extra]


def eval_argv(tmp: Path, assets: Assets, *extra: str, data: Path | None = None, checkpoint: Path | None = None) -> list[str]:
    return ["--checkpoint", str(checkpoint or assets.checkpoint), "--data", str(data or assets.data),
            "--output", str(tmp / "eval.json"), "--device", "cpu", *extra]


def search_argv(tmp: Path, assets: Assets, *overrides: str) -> list[str]:
    return ["--config", str(assets.experiment), "--output", str(tmp / "search"), "--set", *overrides]


def run(case: Case, argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of the CLI run as `case` asks."""
    if case.in_subprocess:
        proc = subprocess.run([sys.executable, "-m", case.cli, *argv], cwd=REPO, env=CLI_ENV, capture_output=True, check=False,
                              text=True, timeout=300)
        return proc.returncode, proc.stdout, proc.stderr
    main = importlib.import_module(case.cli).main
    try:
        main(argv)
        status = 0
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def check_case(case: Case, assets: Assets, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Run `case` and assert what the user sees (see the module docstring of test_bad_input.py)."""
    status, out, err = run(case, case.build(tmp_path, assets), capsys)
    assert "Traceback" not in err
    if case.outcome == "error":
        assert status == 2, err
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), err
        message = lines[0]
    else:
        assert status == 0, err
        assert "error:" not in err and SUCCESS[case.cli] in out, err
        warnings = [line for line in err.splitlines() if line.startswith("warning: ")]
        assert len(warnings) == (1 if case.outcome == "warning" else 0), err
        message = warnings[0] if warnings else ""
    for fragment in case.expect:
        assert fragment in message
    for path in case.absent:
        assert not (tmp_path / path).exists(), f"{path} was created"
    if case.check is not None:
        case.check()
