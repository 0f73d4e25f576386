"""The proxy contract: every searched value reaches the config a trial trains, or is excluded with its reason."""

from __future__ import annotations

import logging
import math
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
import torch
import yaml

from detector import build_detector
from detector.config import TrainConfig
from helpers.points import other_value
from helpers.tiny import TINY_CONFIG
from nars.search import storage_location
from nars.trial.proxy import (
    PROXY_FIELDS,
    SpaceWarning,
    final_run_values,
    proxy_space_spec,
    trial_config,
    warn_saturated_values,
    warn_shadowed_base,
)
from search_spaces import load_space
from search_spaces.fbnetv3.parameters import FIELD_PARAMETERS
from search_spaces.fbnetv3.space import most_anchors

if TYPE_CHECKING:
    from search_spaces.fbnetv3.space import FBNetV3Space

PROXY_EPOCHS = 3
TOTAL_ITERS = 1000  # a run length at which every schedule share is a distinct number of steps


def _trained(space: FBNetV3Space, point: dict[str, Any]) -> dict[str, Any]:
    """What a trial trains for `point`: its config with the schedule resolved in steps, as the engine runs it."""
    config = trial_config(space, point, PROXY_EPOCHS)
    data = config.model_dump(mode="json")
    data["train"] = config.train.resolved(TOTAL_ITERS).model_dump(mode="json", exclude={"warmup_fraction", "ema_horizon"})
    return data


@pytest.fixture(scope="module")
def default_space():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the default space asks for nothing the proxy overrides
        return load_space(proxy_space_spec({"kind": "fbnetv3"}))


def test_every_searched_value_changes_what_the_trial_trains(default_space):
    space = default_space
    checked = set()
    for point in space.sample(24, seed=0, method="random"):  # conditional parameters are active in some of them
        reference = _trained(space, point)
        for param in space.params:
            if param.name not in point:
                continue
            # a parameter that switches others on (an SE block's gate) gets their draws; ones it switches off go
            changed = space.repair({**point, param.name: other_value(param, point[param.name])}, np.random.default_rng(0))
            assert _trained(space, changed) != reference, f"searched '{param.name}' does not reach the trial"
            checked.add(param.name)
    assert checked == set(space.names), f"never active: {set(space.names) - checked}"


def test_what_the_proxy_sets_is_excluded_with_its_reason(default_space):
    not_searched = set(FIELD_PARAMETERS) - set(default_space.names)
    # epochs: the proxy sets it; freeze_at: excluded while base.model.weights is null (frozen random layers)
    assert not_searched == {"epochs", "freeze_at"}
    assert default_space.writes("epochs") == ("train.epochs",) and "train.epochs" in PROXY_FIELDS
    point = default_space.sample(1, seed=3)[0]
    assert trial_config(default_space, point, PROXY_EPOCHS).train.epochs == PROXY_EPOCHS
    assert final_run_values(default_space, point) == {"train.epochs": default_space.base.train.epochs}


def test_searching_a_proxy_set_value_warns_and_keeps_the_final_value():
    spec = {"kind": "fbnetv3", "parameters": {"epochs": {"low": 4, "high": 8}}, "base": {"train": {"epochs": 30}}}
    with pytest.warns(SpaceWarning, match=r"space.parameters.epochs: not searched, every trial trains search.proxy_epochs epochs"):
        space = load_space(proxy_space_spec(spec))
    assert "epochs" not in space.names and space.fixed["epochs"] == 30
    pinned = load_space(proxy_space_spec({"kind": "fbnetv3", "fixed": {"epochs": 24}}))  # a pin names the final run's epochs
    assert pinned.fixed["epochs"] == 24


def test_a_base_value_that_a_searched_parameter_replaces_is_named():
    space = load_space({"kind": "fbnetv3", "base": {"train": {"lr": 0.04, "warmup_iters": 40, "momentum": 0.8}}})
    with pytest.warns(SpaceWarning) as caught:
        warn_shadowed_base(space)
    messages = sorted(str(w.message) for w in caught)
    assert len(messages) == 2, messages  # momentum is not searched
    assert messages[0].startswith("space.base.train.lr is replaced by the searched parameter 'sgd_lr' and 'adamw_lr'")
    assert messages[1].startswith("space.base.train.warmup_iters is replaced by the searched parameter 'warmup_fraction'")


TINY_INPUT = {"kind": "fbnetv3", "template": "fbnetv3_a_dsmask_tiny", "base": {"input": {"min_size": 96, "max_size": 128}},
              "exclude": ["input", "scale_jitter"]}


def test_proposal_counts_that_keep_every_anchor_are_named():
    """At 96 x 128 the C4 map has 6 x 8 cells of 15 anchors: 750-1500 test proposals are one and the same."""
    with pytest.warns(SpaceWarning) as caught:
        warn_saturated_values(load_space(TINY_INPUT))
    messages = sorted(str(w.message) for w in caught)
    assert len(messages) == 3, messages  # post-NMS test counts (10-100) stay below 720
    assert messages[1] == ("space.parameters.rpn_pre_nms_topk_test: 750, 1000, 1250, 1500 are all at or above the 720 anchors of "
                           "the largest input, so they keep every anchor and give the same detector; set high to at most 720")
    assert messages[0].startswith("space.parameters.rpn_post_nms_topk_train: 1000, 1500, 2000 are all at or above the 720")
    assert messages[2].startswith("space.parameters.rpn_pre_nms_topk_train: 1000, 1500, 2000, 2500, 3000 are all at or above the 720")
    capped = load_space({**TINY_INPUT, "parameters": {"rpn_pre_nms_topk_test": {"low": 180, "high": 720, "step": 180},
                                                      "rpn_pre_nms_topk_train": {"low": 180, "high": 900, "step": 180},
                                                      "rpn_post_nms_topk_train": {"low": 100, "high": 700, "step": 200}}})
    assert capped.saturated_values() == {"rpn_pre_nms_topk_train": (720, [720, 900])}, "one value at the limit is fine, two are not"
    assert load_space({"kind": "fbnetv3"}).saturated_values() == {}, "the default sizes (160-320 px) leave every count distinct"


@pytest.mark.parametrize("size", [(96, 128), (128, 96), (100, 100)])
def test_most_anchors_is_what_the_detector_generates_for_its_largest_input(size):
    config = load_space(TINY_INPUT).to_config(load_space(TINY_INPUT).sample(1)[0])
    model = build_detector(config, num_classes=2).eval()
    with torch.no_grad():
        images, _ = model.transform([torch.rand(3, *size)])
        features = list(model.backbone(images.tensors).values())
        anchors = model.rpn.anchor_generator(images, features)[0]
    assert len(anchors) <= most_anchors(config, "test") == 720
    assert (len(anchors) == 720) == (sorted(size) == [96, 128]), "a 96 x 128 image, either way up, fills the largest input"


def test_schedule_shares_resolve_to_steps_of_the_run():
    train = TrainConfig(warmup_iters=40, ema_decay=0.5, warmup_fraction=0.1, ema_horizon=0.05)
    short, long = train.resolved(80), train.resolved(600)
    assert (short.warmup_iters, long.warmup_iters) == (8, 60)
    assert short.ema_decay == pytest.approx(1 - 1 / 4) and long.ema_decay == pytest.approx(1 - 1 / 30)
    assert TrainConfig(ema_horizon=0.01).resolved(100).ema_decay == 0.0, "a horizon of one step averages nothing"
    absolute = TrainConfig(warmup_iters=40, ema_decay=0.5).resolved(80)
    assert (absolute.warmup_iters, absolute.ema_decay) == (40, 0.5)


def test_trials_keep_the_data_loader_workers_of_the_config():
    space = load_space({"kind": "fbnetv3", "base": {"train": {"num_workers": 6}}})
    assert trial_config(space, space.sample(1)[0], PROXY_EPOCHS).train.num_workers == 6


def test_storage_keeps_uris_and_resolves_paths(tmp_path):
    assert storage_location("s3://bucket/runs", tmp_path) == "s3://bucket/runs"
    assert storage_location("file:///shared/runs", tmp_path) == "file:///shared/runs"
    assert storage_location("relative/runs", tmp_path).endswith("/relative/runs") and storage_location("relative/runs", tmp_path).startswith("/")
    assert storage_location(None, tmp_path) == str(tmp_path / "ray")


def test_a_trial_whose_warmup_is_longer_than_it_trains_with_the_scaled_warmup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The real trial (`run_trial`, outside Ray: its session calls stubbed) of a base warmup of 24 steps in a 2-epoch
    trial of 2 x 2 steps, for a 24-epoch final run: it warms up for 24 x 2/24 = 2 steps, then follows train.lr's cosine."""
    from detector.data.paths import resolve_data_paths
    from detector.data.synthetic import generate_synthetic_coco
    from detector.training.run_folder import CONFIG
    from nars.trial.costs import CostSettings
    from nars.trial.spec import TrialSpec
    from nars.tune import trainable

    reports: list[dict[str, Any]] = []
    session = SimpleNamespace(report=lambda values, checkpoint=None: reports.append(values), get_checkpoint=lambda: None,
                              get_context=lambda: SimpleNamespace(get_trial_id=lambda: "trial"),
                              Checkpoint=SimpleNamespace(from_directory=lambda folder: folder))
    monkeypatch.setattr(trainable, "tune", session)
    data = generate_synthetic_coco(tmp_path / "data", num_train=4, num_val=2, image_size=(96, 128), seed=0)
    base = {**TINY_CONFIG, "train": {**TINY_CONFIG["train"], "epochs": 24, "warmup_iters": 24}}  # batch 2: 2 steps per epoch
    space_spec = proxy_space_spec({"kind": "fbnetv3", "base": base, "exclude": ["arch", "input", "recipe", "detector"]})
    spec = TrialSpec(space_spec, resolve_data_paths(data), proxy_epochs=2, costs=CostSettings(), latency_objective=False,
                     threads=torch.get_num_threads(), device="cpu", work_dir=str(tmp_path / "trials"))
    with caplog.at_level(logging.WARNING):
        trainable.run_trial({}, spec=spec)
    said = [r.getMessage() for r in caplog.records if "train.warmup_iters" in r.getMessage()]
    assert said == [("train.warmup_iters (24) is longer than this trial (4 iterations = 2 epochs x 2): the trial warms up for 2 "
                     "iterations instead (its share of the final run's 24 epochs), so that it reaches train.lr 0.02")]
    # the last step of each epoch (steps 1 and 3): half-way through the 2-step warmup, then the cosine of train.lr alone
    cosine = [0.5 * (1 + math.cos(math.pi * step / 4)) for step in (1, 3)]
    assert [r["lr"] for r in reports] == pytest.approx([0.02 * (0.001 + 0.999 / 2) * cosine[0], 0.02 * cosine[1]])
    saved = yaml.safe_load((tmp_path / "trials" / "trial" / CONFIG).read_text())
    assert saved["train"]["warmup_iters"] == 24, "the trial's config is the final run's; only its schedule is scaled"
