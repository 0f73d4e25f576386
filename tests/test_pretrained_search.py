"""Searching from a pretrained checkpoint (issue 19, point 1): recipes and detector knobs, the arch pinned."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch
import yaml
from conftest import write_random_checkpoint

from _tiny import CLI_ENV, REPO
from core.errors import CheckpointError, ConfigError
from detector.model import build_detector
from nars.pretrained import check_weights, init_label
from nars.proxy import proxy_space_spec, trial_config
from search_spaces import load_space

TINY = "fbnetv3_a_dsmask_tiny"


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_random_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt", model={"arch": TINY})


def quickstart_space(weights_path: Any, exclude: tuple[str, ...] = ("arch", "input", "warmup_fraction")) -> dict[str, Any]:
    """The quickstart search's space fine-tuning from `weights_path`, with the arch pinned and freeze_at searched."""
    experiment = yaml.safe_load((REPO / "experiments" / "quickstart_search.yaml").read_text())
    space = copy.deepcopy(experiment["space"])
    space["base"]["model"]["weights"] = None if weights_path is None else str(weights_path)
    space["exclude"] = list(exclude)
    return space


def test_pinned_arch_with_weights_searches_freeze_at_and_trials_carry_the_weights(tiny_checkpoint):
    space = load_space(proxy_space_spec(quickstart_space(tiny_checkpoint)))
    assert "freeze_at" in space.names and not any(n.startswith("trunk") for n in space.names)
    points = space.sample(8, seed=0, method="random")
    assert len({p["freeze_at"] for p in points}) > 1
    config = trial_config(space, points[0], proxy_epochs=1)
    assert config.model.weights == str(tiny_checkpoint) and init_label(config) == "pretrained"
    check_weights(space)  # fits: no error

    model = build_detector(config, num_classes=3)
    saved = torch.load(tiny_checkpoint, weights_only=True)["model"]
    trunk = {k: v for k, v in model.state_dict().items() if k.startswith("backbone.body.") and not k.endswith("num_batches_tracked")}
    assert trunk and all(torch.equal(v, saved[k]) for k, v in trunk.items())


def test_from_scratch_excludes_freeze_at_and_labels_scratch():
    space = load_space(proxy_space_spec(quickstart_space(None)))
    assert "freeze_at" not in space.names
    assert init_label(trial_config(space, space.sample(1)[0], proxy_epochs=1)) == "scratch"
    check_weights(space)  # nothing to check


def test_searched_arch_with_weights_is_still_refused(tiny_checkpoint):
    with pytest.raises(ConfigError, match="cannot load into searched architectures"):
        load_space(quickstart_space(tiny_checkpoint, exclude=("input",)))


def _tiny_state() -> dict[str, torch.Tensor]:
    return build_detector({"model": {"arch": TINY, "weights": None, "freeze_at": 0}}, num_classes=3).state_dict()


@pytest.mark.parametrize(
    "write, message",
    [
        (lambda p: write_random_checkpoint(p, model={"arch": "fbnetv3_a_dsmask"}), r"bad\.pt does not fit this architecture: \d+ tensors differ in shape"),
        (lambda p: p.write_bytes(b"not a checkpoint"), r"bad\.pt: not a readable checkpoint"),
        (lambda p: torch.save({"model": {"step": 3}}, p), r"bad\.pt: checkpoint holds no tensors"),
        (lambda p: torch.save({"model": dict(list(_tiny_state().items())[:5])}, p),
         r"bad\.pt does not match the pinned arch fbnetv3_a_dsmask_tiny: \d+ model tensors absent from the file"),
    ],
    ids=["other-arch", "unreadable", "no-tensors", "partial"],
)
def test_a_checkpoint_that_does_not_fit_is_one_line_naming_the_file(tmp_path, write, message):
    path = tmp_path / "bad.pt"
    write(path)
    space = load_space(proxy_space_spec(quickstart_space(path)))
    with pytest.raises(CheckpointError, match=message) as caught:
        check_weights(space)
    assert "\n" not in str(caught.value) and str(caught.value).startswith("space.base.model.weights: ")


def test_small_search_through_the_cli_fine_tunes_every_trial(tiny_checkpoint, tmp_path):
    """2 trials of 1 epoch on the tiny arch, every one from the checkpoint; the winner keeps the weights."""
    out = tmp_path / "search"
    overrides = ["data.synthetic.num_train=8", "data.synthetic.num_val=4", "search.num_samples=2", "search.initial_points=2",
                 "search.proxy_epochs=1", "search.evolution.population=8", "search.evolution.generations=2",
                 "search.evolution.children_per_generation=64", "search.predictor.pretrain_points=8",
                 f"space.base.model.weights={tiny_checkpoint}", "space.exclude=[arch,input,warmup_fraction]"]
    result = subprocess.run([sys.executable, "-m", "nars.search", "--config", "experiments/quickstart_search.yaml",
                             "--output", str(out), "--set", *overrides], check=False, cwd=REPO, env=CLI_ENV, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 2 and set(trials["init"]) == {"pretrained"} and "param.freeze_at" in trials
    recipe = yaml.safe_load((out / "best_recipe.yaml").read_text())
    assert recipe["model"]["weights"] == str(tiny_checkpoint) and recipe["model"]["freeze_at"] in (0, 1, 2)
