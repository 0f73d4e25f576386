"""Training from scratch in one setting, its warning said once when a training starts, and the warmup checked
against the run's length (issue 42: a 100-step warmup in a 52-step run peaked at 2.7e-3 of lr 0.02, silently)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import yaml

from detector.config import DetectorConfig, TrainConfig, load_config
from detector.data.paths import resolve_data_paths
from detector.train import main
from detector.training import engine
from detector.training.checkpoint import model_from_checkpoint
from detector.training.engine import train
from detector.training.solver import fit_warmup, warmup_problem
from helpers.tiny import make_synthetic, tiny_config
from nars.trial.proxy import trial_config
from search_spaces import load_space

FREEZE_WARNING = "freezes randomly initialised stages"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_synthetic(tmp_path_factory.mktemp("scratch"))  # 8 training images: 4 iterations per epoch at batch 2


def _warnings(caplog: pytest.LogCaptureFixture, fragment: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and fragment in r.getMessage()]


@pytest.mark.parametrize(("model", "freeze_at"), [
    ({"weights": None}, 0),                  # from scratch: nothing pretrained to keep
    ({"weights": None, "freeze_at": 2}, 2),  # set explicitly: kept (and warned about when training starts)
    ({}, 2),                                 # the COCO checkpoint: d2go's 2 frozen stages
    ({"weights": "model.pt"}, 2),
])
def test_null_weights_make_freeze_at_default_to_0(model: dict[str, Any], freeze_at: int) -> None:
    assert load_config({"model": model}).model.freeze_at == freeze_at


def test_a_search_space_with_null_weights_means_the_same() -> None:
    scratch = load_space({"kind": "fbnetv3", "base": {"model": {"weights": None}}})
    assert trial_config(scratch, scratch.sample(1)[0], proxy_epochs=1).model.freeze_at == 0
    pinned = load_space({"kind": "fbnetv3", "base": {"model": {"weights": None, "freeze_at": 1}}})
    assert trial_config(pinned, pinned.sample(1)[0], proxy_epochs=1).model.freeze_at == 1


class _Stopped(Exception):
    """Raised instead of training: the test only needs the config `detector.train` resolved."""


def test_from_scratch_flag_trains_every_stage(data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture) -> None:
    resolved: list[DetectorConfig] = []

    def record(config: DetectorConfig, *args: Any, **kwargs: Any) -> None:
        resolved.append(config)
        raise _Stopped

    monkeypatch.setattr(engine, "train", record)
    config = tiny_config(epochs=1)
    del config["model"]["weights"], config["model"]["freeze_at"]  # the defaults: the COCO checkpoint, 2 frozen stages
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    argv = ["--config", str(path), "--data", str(data), "--output", str(tmp_path / "run"), "--from-scratch"]
    with pytest.raises(_Stopped):
        main(argv)
    with pytest.raises(_Stopped):
        main([*argv, "--set", "model.freeze_at=1"])
    assert [(c.model.weights, c.model.freeze_at) for c in resolved] == [(None, 0), (None, 1)]

    with pytest.raises(SystemExit):
        main([*argv, "--set", "model.weights=model.pt"])
    assert capsys.readouterr().err == "error: --from-scratch and --set model.weights=... both set model.weights; pass one of them\n"


def test_warnings_are_said_once_when_a_training_starts(data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The library (what search trials call) warns about a warmup longer than the run instead of refusing it: a trial's
    proxy schedule is shorter than the one its config was written for."""
    paths = resolve_data_paths(data)
    config = tiny_config(epochs=1, warmup_iters=10)
    config["model"]["freeze_at"] = 1  # with null weights: set explicitly, so kept
    out = tmp_path / "run"
    with caplog.at_level(logging.WARNING):
        train(config, paths, out, progress=False)
    assert len(_warnings(caplog, FREEZE_WARNING)) == 1
    assert len(_warnings(caplog, "train.warmup_iters (10) is longer than this run (4 iterations = 1 epoch x 4)")) == 1

    caplog.clear()
    with caplog.at_level(logging.WARNING):
        train({**config, "train": {**config["train"], "epochs": 2}}, paths, out, resume=True, progress=False)
        model_from_checkpoint(out / "model_final.pt")  # how evaluate, predict and export load a trained model
    assert not _warnings(caplog, FREEZE_WARNING) and not _warnings(caplog, "train.warmup_iters")


def test_warmup_longer_than_the_run_is_one_error_line(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(tiny_config(epochs=2)))  # 2 epochs x 4 iterations
    with pytest.raises(SystemExit) as stopped:
        main(["--config", str(path), "--data", str(data), "--output", str(tmp_path / "run"), "--device", "cpu", "--no-progress",
              "--set", "train.warmup_iters=100"])
    assert stopped.value.code == 2 and capsys.readouterr().err == (
        "error: train.warmup_iters (100) is longer than this run (8 iterations = 2 epochs x 4): the learning rate would peak "
        "at 0.00043 instead of train.lr 0.02; set train.warmup_iters below 8 (e.g. --set train.warmup_iters=1) or train longer\n"
    )
    assert not (tmp_path / "run" / "last.pt").exists()


def test_only_a_warmup_that_does_not_end_before_the_run_is_a_problem() -> None:
    assert warmup_problem(TrainConfig(epochs=2, warmup_iters=51), 26) is None
    assert warmup_problem(TrainConfig(epochs=2, warmup_iters=52), 26).startswith(
        "train.warmup_iters (52) is as long as this run (52 iterations = 2 epochs x 26)")
    assert "would peak at 0.0027 instead of train.lr 0.02" in warmup_problem(TrainConfig(epochs=2), 26)  # the run
    assert warmup_problem(TrainConfig(epochs=1, warmup_fraction=0.5).resolved(3), 3) is None  # a share of the run fits


def test_a_trial_scales_a_warmup_longer_than_it_to_its_share_of_the_final_run() -> None:
    """The issue's trial: base warmup 100 in a 2-epoch proxy of 26 iterations per epoch, for a 24-epoch final run."""
    trial = TrainConfig(epochs=2, warmup_iters=100)
    scaled, note = fit_warmup(trial, 26, final_epochs=24)
    assert scaled.warmup_iters == 8 and scaled.model_dump(exclude={"warmup_iters"}) == trial.model_dump(exclude={"warmup_iters"})
    assert note == ("train.warmup_iters (100) is longer than this trial (52 iterations = 2 epochs x 26): the trial warms up for "
                    "8 iterations instead (its share of the final run's 24 epochs), so that it reaches train.lr 0.02")
    assert warmup_problem(scaled, 26) is None
    # a warmup that fits is the config as it was (the same object); so is a fraction, which always fits
    fits = TrainConfig(epochs=2, warmup_iters=51)
    assert fit_warmup(fits, 26, final_epochs=24) == (fits, None) and fit_warmup(fits, 26, final_epochs=24)[0] is fits
    assert fit_warmup(trial, 26, final_epochs=None) == (trial, None), "a run that is no proxy keeps its warmup"
    fraction = TrainConfig(epochs=2, warmup_fraction=0.5).resolved(52)
    assert fit_warmup(fraction, 26, final_epochs=24)[1] is None
    # at least one step, and below the trial's end even when the share is not (a final run hardly longer than the trial)
    short, note = fit_warmup(TrainConfig(epochs=2, warmup_iters=52), 26, final_epochs=300)
    assert short.warmup_iters == 1 and "is as long as this trial" in note
    assert "(52 x 2/300 epochs of the final run, at least 1 step)" in note
    long, note = fit_warmup(TrainConfig(epochs=2, warmup_iters=500), 26, final_epochs=3)
    assert long.warmup_iters == 51 and "is longer than this trial (52 iterations" in note
    assert "(500 x 2/3 epochs of the final run, kept below the trial's end)" in note
