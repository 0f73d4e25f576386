"""`python -m detector.train` / `python -m detector.evaluate` as a user runs them (subprocesses)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers.tiny import CLI_ENV, REPO, make_synthetic, tiny_config


def _run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=REPO, env=CLI_ENV, capture_output=True, text=True, timeout=timeout)


def _assert_one_line_error(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in errors[0]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("cli")
    data = make_synthetic(root / "data")
    config = root / "tiny.yaml"
    config.write_text(yaml.safe_dump(tiny_config(epochs=1)))
    return data, config


@pytest.fixture(scope="module")
def trained(setup: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One CLI training run (2 epochs), shared by the evaluate and resume cases."""
    data, config = setup
    out = tmp_path_factory.mktemp("run") / "run"
    proc = _run("-m", "detector.train", "--config", str(config), "--data", str(data), "--output", str(out),
                "--epochs", "2", "--set", "train.lr=0.01", "--device", "cpu", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert "training complete: 2 epochs" in proc.stdout
    assert "model_final.pt" in proc.stdout and "python -m detector.evaluate" in proc.stdout
    return out


def test_train_writes_the_resolved_config(trained: Path) -> None:
    saved = yaml.safe_load((trained / "config.yaml").read_text())
    assert saved["train"]["epochs"] == 2 and saved["train"]["lr"] == 0.01 and saved["model"]["num_classes"] == 3


def test_evaluate_prints_a_table_and_writes_json(setup: tuple[Path, Path], trained: Path) -> None:
    data, _ = setup
    proc = _run("-m", "detector.evaluate", "--checkpoint", str(trained / "model_final.pt"), "--data", str(data), "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    assert "AP50" in proc.stdout and "triangle" in proc.stdout
    report = json.loads((trained / "eval_val.json").read_text())
    assert {"ap", "ap50", "ap75", "aps", "apm", "apl", "per_class_ap", "num_images"} <= set(report)
    assert report["num_images"] == 4 and report["split"] == "val"
    # by default in the training's batches (tiny.yaml: train.batch_size 2), so the AP is the one the training logged.
    # The CLI runs the BN-folded copy: its scores differ from the trained model's by ~1e-8, far below the ~3e-7
    # smallest gap between two scores here, so no detection changes rank and the AP matches to float precision.
    logged = json.loads((trained / "metrics.jsonl").read_text().splitlines()[-1])
    assert report["batch_size"] == 2 and "batches of 2" in proc.stdout
    assert report["ap"] == pytest.approx(logged["ap"], abs=1e-6) and report["ap50"] == pytest.approx(logged["ap50"], abs=1e-6)


def test_evaluate_train_split_to_a_chosen_file(setup: tuple[Path, Path], trained: Path, tmp_path: Path) -> None:
    from detector.evaluate import main

    data, _ = setup
    custom = tmp_path / "train_metrics.json"
    report = main(["--checkpoint", str(trained / "last.pt"), "--data", str(data), "--split", "train",
                   "--output", str(custom), "--device", "cpu"])
    assert json.loads(custom.read_text())["num_images"] == 8 == report["num_images"]


def test_resume_with_another_config_is_refused_and_a_finished_run_says_so(
    setup: tuple[Path, Path], trained: Path, capsys: pytest.CaptureFixture
) -> None:
    from detector.train import main

    data, config = setup
    base = ["--config", str(config), "--data", str(data), "--output", str(trained), "--resume", "--no-progress"]
    with pytest.raises(SystemExit) as exit_info:  # the run was trained with --set train.lr=0.01
        main(base)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot resume") and "train.lr 0.01 -> 0.02; only train.epochs may be increased" in err
    assert err.count("\n") == 1
    with pytest.raises(SystemExit):  # tiny.yaml says 1 epoch, the run has 2
        main([*base, "--set", "train.lr=0.01"])
    assert capsys.readouterr().err.startswith("error: train.epochs: 1 is less than the 2")
    main(["--data", str(data), "--output", str(trained), "--resume", "--no-progress"])  # reuses OUT/config.yaml
    assert "already complete (2 epochs)" in capsys.readouterr().out


def test_bad_set_key_is_one_error_line(setup: tuple[Path, Path], tmp_path: Path) -> None:
    data, config = setup
    proc = _run("-m", "detector.train", "--config", str(config), "--data", str(data), "--output", str(tmp_path / "o"),
                "--set", "train.lrr=0.1")
    _assert_one_line_error(proc, "train.lrr", "did you mean 'lr'")
    assert not (tmp_path / "o").exists()


def _train_error(capsys: pytest.CaptureFixture, *argv: str) -> str:
    """The one `error:` line `detector.train` ends with (exit status 2, no traceback)."""
    from detector.train import main

    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_bad_set_value_is_one_error_line(setup: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data, config = setup
    base = ["--config", str(config), "--data", str(data), "--output", str(tmp_path / "o")]
    err = _train_error(capsys, *base, "--set", "train.optimizer=adam")
    assert err.startswith("error: --set train.optimizer=adam: train.optimizer: got 'adam'")
    # the error names the --set that gave the bad value, not the file the other values came from
    err = _train_error(capsys, *base, "--set", "train.lr=-1", "train.momentum=0.8")
    assert err.startswith("error: --set train.lr=-1: train.lr: got -1; input should be greater than 0"), err
    err = _train_error(capsys, *base, "--epochs", "0")  # a shortcut flag is named as the user gave it
    assert err.startswith("error: --epochs 0: train.epochs: got 0"), err
    assert not (tmp_path / "o").exists()


def test_bad_file_value_names_the_file(setup: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data, _ = setup
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(tiny_config(epochs=1, lr=-0.5)))
    base = ["--config", str(bad), "--data", str(data), "--output", str(tmp_path / "o")]
    # a --set elsewhere does not take the blame: the bad value is the file's
    err = _train_error(capsys, *base, "--set", "train.momentum=0.8")
    assert err.startswith(f"error: {bad}: train.lr: got -0.5; input should be greater than 0"), err
    assert "--set" not in err
    assert not (tmp_path / "o").exists()


def test_missing_data_dir_is_one_error_line(setup: tuple[Path, Path], tmp_path: Path) -> None:
    _, config = setup
    proc = _run("-m", "detector.train", "--config", str(config), "--data", str(tmp_path / "nowhere"), "--output", str(tmp_path / "o"))
    _assert_one_line_error(proc, "data folder not found")


def test_evaluate_bad_checkpoint_is_one_error_line(setup: tuple[Path, Path], tmp_path: Path) -> None:
    data, _ = setup
    proc = _run("-m", "detector.evaluate", "--checkpoint", str(tmp_path / "missing.pt"), "--data", str(data))
    _assert_one_line_error(proc, "checkpoint not found")


def test_evaluate_unreadable_checkpoint_is_one_error_line(setup: tuple[Path, Path], tmp_path: Path, capsys) -> None:
    from detector.evaluate import main

    data, _ = setup
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(SystemExit) as exit_info:
        main(["--checkpoint", str(garbage), "--data", str(data)])
    assert exit_info.value.code == 2 and "garbage.pt: " in capsys.readouterr().err


def test_torchrun_two_processes_on_cpu(setup: tuple[Path, Path], tmp_path: Path) -> None:
    """DDP with gloo and naiveSyncBN; rank 0 alone writes the outputs."""
    data, config = setup
    out = tmp_path / "ddp"
    proc = _run("-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "detector.train",
                "--config", str(config), "--data", str(data), "--output", str(out), "--set", "model.norm=naiveSyncBN",
                "--device", "cpu", "--no-progress")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.count("training complete") == 1  # only rank 0 reports
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(records) == 1 and records[0]["global_step"] == 4  # 8 images / (2 processes x 1 image)
    assert "ap" in records[0] and (out / "model_final.pt").is_file()
