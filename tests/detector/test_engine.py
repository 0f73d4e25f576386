"""The training engine on a tiny detector and a few synthetic images (each case a few seconds on CPU)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import yaml
from torch import nn

from core.errors import CheckpointError, ConfigError, TrainingError
from detector.config import load_config
from detector.data.paths import DataPaths, resolve_data_paths
from detector.modeling.model import FBNetV3OD, build_detector
from detector.training.checkpoint import load_checkpoint, model_from_checkpoint
from detector.training.engine import train
from detector.training.loop import StopTraining, TrainCallback
from detector.training.solver import build_lr_lambda, build_optimizer, build_scheduler, parameter_groups
from helpers.tiny import make_synthetic, tiny_config

LOSSES = ("loss", "loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg")
AP_KEYS = ("ap", "ap50", "ap75", "aps", "apm", "apl")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> DataPaths:
    return resolve_data_paths(make_synthetic(tmp_path_factory.mktemp("synthetic")))


def _records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_training_writes_every_output_and_lowers_the_loss(data: DataPaths, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = train(tiny_config(epochs=3, eval_every=2, ema_decay=0.9), data, out, progress=False)

    assert {"config.yaml", "metrics.jsonl", "last.pt", "model_final.pt", "curves.png"} <= {p.name for p in out.iterdir()}
    records = _records(out)
    assert [r["epoch"] for r in records] == [1, 2, 3] and result.epochs_completed == 3
    for r in records:
        assert set(LOSSES) | {"lr", "epoch_time_s", "images_per_s", "global_step"} <= set(r)
        assert r["images_per_s"] > 0
    assert records[-1]["loss"] < records[0]["loss"]
    # eval_every 2: evaluated after epoch 2 and, always, after the last epoch
    assert [("ap" in r) for r in records] == [False, True, True]
    assert set(AP_KEYS) | {"per_class_ap", "ap_raw"} <= set(records[-1])
    assert set(records[-1]["per_class_ap"]) == {"circle", "square", "triangle"}
    assert result.metrics == records[-1] and result.global_step == 3 * 4

    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["model"]["num_classes"] == 3 and load_config(saved).train.epochs == 3
    last = load_checkpoint(out / "last.pt")
    assert {"model", "ema_model", "optimizer", "scheduler", "epoch", "global_step", "rng", "config", "class_names",
            "label_to_category_id", "metrics"} <= set(last)
    assert last["epoch"] == 3 and last["global_step"] == 12
    final = load_checkpoint(out / "model_final.pt")
    assert {"model", "ema_model", "config", "class_names", "label_to_category_id", "metrics"} <= set(final)
    assert "optimizer" not in final and final["metrics"]["ap"] == records[-1]["ap"]
    model, _ = model_from_checkpoint(out / "model_final.pt")
    assert isinstance(model, FBNetV3OD) and not model.training
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_absurd_learning_rate_stops_with_a_clear_error(data: DataPaths, tmp_path: Path) -> None:
    with pytest.raises(TrainingError, match=r"loss became non-finite \((nan|inf)\) at epoch 1, iteration \d+; .*train\.lr"):
        train(tiny_config(lr=1e6, warmup_iters=0), data, tmp_path / "run", progress=False)


def test_non_finite_loss_keeps_the_last_good_checkpoint(data: DataPaths, tmp_path: Path, monkeypatch) -> None:
    """A loss that turns NaN in epoch 2 raises; last.pt still holds the finished epoch 1."""
    state = {"poison": False}
    forward = FBNetV3OD.forward

    def poisoned(self, images, targets=None):
        out = forward(self, images, targets)
        if self.training and state["poison"]:
            out = {k: v * float("nan") for k, v in out.items()}
        return out

    class PoisonAfterFirstEpoch(TrainCallback):
        def on_epoch_end(self, epoch, metrics, checkpoint_path):
            state["poison"] = True

    monkeypatch.setattr(FBNetV3OD, "forward", poisoned)
    out = tmp_path / "run"
    with pytest.raises(TrainingError, match=r"at epoch 2, iteration 1; last finite loss \d.*last\.pt \(epoch 1\)"):
        train(tiny_config(epochs=3), data, out, callbacks=[PoisonAfterFirstEpoch()], progress=False)
    assert load_checkpoint(out / "last.pt")["epoch"] == 1
    assert [r["epoch"] for r in _records(out)] == [1]


def test_interrupted_and_resumed_run_equals_an_uninterrupted_one(data: DataPaths, tmp_path: Path) -> None:
    config = tiny_config(epochs=2, ema_decay=0.8)  # hflip augmentation, momentum and EMA all in play
    straight = train(config, data, tmp_path / "straight", progress=False)

    class Crash(TrainCallback):
        def on_epoch_end(self, epoch, metrics, checkpoint_path):
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        train(config, data, tmp_path / "resumed", callbacks=[Crash()], progress=False)
    resumed = train(config, data, tmp_path / "resumed", resume=True, progress=False)

    assert resumed.global_step == straight.global_step == 8
    a = load_checkpoint(tmp_path / "straight" / "model_final.pt")
    b = load_checkpoint(tmp_path / "resumed" / "model_final.pt")
    for key in ("model", "ema_model"):
        assert a[key].keys() == b[key].keys()
        for name in a[key]:
            assert torch.allclose(a[key][name].float(), b[key][name].float(), atol=1e-6), f"{key}.{name} differs"
    assert [r["epoch"] for r in _records(tmp_path / "resumed")] == [1, 2]  # no duplicated epoch
    assert _records(tmp_path / "resumed")[1]["loss"] == pytest.approx(_records(tmp_path / "straight")[1]["loss"], abs=1e-6)

    again = train(config, data, tmp_path / "resumed", resume=True, progress=False)
    assert again.already_complete and again.epochs_completed == 2


def test_resume_refuses_a_changed_config_but_allows_more_epochs(data: DataPaths, tmp_path: Path) -> None:
    out = tmp_path / "run"
    train(tiny_config(epochs=1), data, out, progress=False)
    with pytest.raises(CheckpointError, match="already holds a training run"):
        train(tiny_config(epochs=1), data, out, progress=False)
    with pytest.raises(ConfigError, match=r"train\.lr 0\.02 -> 0\.01; only train\.epochs may be increased"):
        train(tiny_config(epochs=1, lr=0.01), data, out, resume=True, progress=False)
    result = train(tiny_config(epochs=2), data, out, resume=True, progress=False)
    assert result.epochs_completed == 2 and [r["epoch"] for r in _records(out)] == [1, 2]
    with pytest.raises(CheckpointError, match="nothing to resume"):
        train(tiny_config(), data, tmp_path / "empty", resume=True, progress=False)


def test_callbacks_get_metrics_and_can_stop_training(data: DataPaths, tmp_path: Path) -> None:
    seen: list[tuple[int, dict, Path]] = []

    class StopAfterTwo(TrainCallback):
        def on_epoch_end(self, epoch, metrics, checkpoint_path):
            assert checkpoint_path.is_file() and load_checkpoint(checkpoint_path)["epoch"] == epoch
            seen.append((epoch, metrics, checkpoint_path))
            if epoch == 2:
                raise StopTraining

    out = tmp_path / "run"
    result = train(tiny_config(epochs=5, eval_every=1), data, out, callbacks=[StopAfterTwo()], progress=False)
    assert [epoch for epoch, _, _ in seen] == [1, 2]
    assert all(set(AP_KEYS) | set(LOSSES) <= set(m) for _, m, _ in seen)
    assert result.stopped_early and result.epochs_completed == 2
    assert (out / "model_final.pt").is_file() and len(_records(out)) == 2


def test_num_classes_must_match_the_data(data: DataPaths, tmp_path: Path) -> None:
    config = tiny_config()
    config["model"]["num_classes"] = 5
    with pytest.raises(ConfigError, match=r"model\.num_classes is 5 but .*train\.json has 3 categories"):
        train(config, data, tmp_path / "run", progress=False)


def test_multi_process_settings_are_checked_before_joining_a_group(data: DataPaths, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")  # as under torchrun; both errors come before init_process_group
    with pytest.raises(ConfigError, match=r"train\.batch_size: 3 is not divisible by the 2 processes"):
        train(tiny_config(batch_size=3), data, tmp_path / "run", progress=False)
    config = tiny_config()
    config["model"]["norm"] = "SyncBN"
    with pytest.raises(ConfigError, match="SyncBN needs CUDA.*naiveSyncBN"):
        train(config, data, tmp_path / "run", device="cpu", progress=False)


def test_warmup_cosine_and_step_schedules_follow_the_formula() -> None:
    total, warm, factor = 100, 10, 0.001
    cosine = build_lr_lambda(total, schedule="cosine", warmup_iters=warm, warmup_factor=factor)
    for it in (0, 5, 10, 50, 99, 100):
        w = factor + (1 - factor) * it / warm if it < warm else 1.0
        assert cosine(it) == pytest.approx(w * 0.5 * (1 + math.cos(math.pi * it / total)))
    assert cosine(0) == pytest.approx(factor) and cosine(50) == pytest.approx(0.5) and cosine(100) == pytest.approx(0.0)

    step = build_lr_lambda(total, schedule="step", warmup_iters=0, steps=[0.5, 0.8], gamma=0.1)
    assert [step(i) for i in (0, 49, 50, 79, 80, 99)] == pytest.approx([1, 1, 0.1, 0.1, 0.01, 0.01])

    # the scheduler applies it per iteration to every parameter group
    config = load_config(tiny_config(lr=0.2, warmup_iters=warm, warmup_factor=factor))
    optimizer = build_optimizer(nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2)), config.train)
    scheduler = build_scheduler(optimizer, config.train, total)
    lrs = []
    for _ in range(51):
        lrs.append([g["lr"] for g in optimizer.param_groups])
        optimizer.step()
        scheduler.step()
    for it in (0, 5, 10, 50):
        assert lrs[it] == pytest.approx([0.2 * cosine(it)] * len(optimizer.param_groups))


def test_no_weight_decay_on_norm_and_bias_parameters() -> None:
    model = build_detector(load_config(tiny_config(weight_decay=1e-4)), num_classes=3)
    groups = {g["name"]: g for g in parameter_groups(model, 1e-4)}
    assert groups["decay"]["weight_decay"] == 1e-4 and groups["no_decay"]["weight_decay"] == 0.0
    no_decay = {id(p) for p in groups["no_decay"]["params"]}
    decay = {id(p) for p in groups["decay"]["params"]}
    norms = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm)
    for name, module in model.named_modules():
        for pname, p in module.named_parameters(recurse=False):
            if not p.requires_grad:
                continue
            expect_no_decay = isinstance(module, norms) or pname == "bias"
            assert (id(p) in no_decay) == expect_no_decay and (id(p) in decay) != expect_no_decay, f"{name}.{pname}"
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert len(no_decay) + len(decay) == len(trainable)
    optimizer = build_optimizer(model, load_config(tiny_config(optimizer="adamw")).train)
    assert isinstance(optimizer, torch.optim.AdamW) and [g["weight_decay"] for g in optimizer.param_groups] == [0.0001, 0.0]
