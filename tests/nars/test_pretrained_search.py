"""Searching from a pretrained checkpoint: recipes and detector knobs with the arch pinned, and searched archs
that inherit (the inheritance rules themselves: tests/test_inherit.py)."""

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

from core.errors import CheckpointError, ConfigError
from detector.modeling.model import build_detector
from helpers.tiny import CLI_ENV, REPO
from nars.trial.init import check_weights, init_columns
from nars.trial.proxy import proxy_space_spec, trial_config
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
    assert config.model.weights == str(tiny_checkpoint) and config.model.weights_fit == "exact"
    assert init_columns(config)["init"] == "inherited" and init_columns(config)["inherited_share"] > 0.95
    check_weights(space)  # fits: no error

    model = build_detector(config, num_classes=3)
    saved = torch.load(tiny_checkpoint, weights_only=True)["model"]
    trunk = {k: v for k, v in model.state_dict().items() if k.startswith("backbone.body.") and not k.endswith("num_batches_tracked")}
    assert trunk and all(torch.equal(v, saved[k]) for k, v in trunk.items())


def test_from_scratch_excludes_freeze_at_and_labels_scratch():
    space = load_space(proxy_space_spec(quickstart_space(None)))
    assert "freeze_at" not in space.names
    assert init_columns(trial_config(space, space.sample(1)[0], proxy_epochs=1)) == {"init": "scratch", "inherited_share": 0.0}
    check_weights(space)  # nothing to check


def test_searched_arch_with_weights_inherits_and_exact_fit_is_refused(tiny_checkpoint):
    space = load_space(proxy_space_spec(quickstart_space(tiny_checkpoint, exclude=("input",))))
    assert any(n.startswith("trunk") for n in space.names) and "freeze_at" in space.names
    configs = [trial_config(space, p, proxy_epochs=1) for p in space.sample(6, seed=1, method="random")]
    assert all(c.model.weights_fit == "inherit" for c in configs)
    columns = [init_columns(c) for c in configs]
    assert {c["init"] for c in columns} <= {"inherited", "partial"} and all(0 < c["inherited_share"] <= 1 for c in columns)
    assert len({c["inherited_share"] for c in columns}) > 1  # the share follows the arch
    check_weights(space)  # the file holds the template: no error

    exact = quickstart_space(tiny_checkpoint, exclude=("input",))
    exact["base"]["model"]["weights_fit"] = "exact"
    with pytest.raises(ConfigError, match="weights_fit: exact cannot load .* into searched architectures"):
        load_space(exact)


def test_a_checkpoint_of_another_arch_than_the_template_is_one_line(tmp_path):
    other = write_random_checkpoint(tmp_path / "other.pt", model={"arch": "fbnetv3_a_dsmask"})
    space = load_space(proxy_space_spec(quickstart_space(other, exclude=("input",))))
    with pytest.raises(CheckpointError, match=r"other\.pt does not fit this architecture") as caught:
        check_weights(space)
    assert "\n" not in str(caught.value)


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


@pytest.mark.parametrize("exclude", ["arch,input,warmup_fraction", "input,warmup_fraction"], ids=["pinned-arch", "searched-arch"])
def test_small_search_through_the_cli_starts_every_trial_from_the_checkpoint(tiny_checkpoint, tmp_path, exclude):
    """2 trials of 1 epoch around the tiny arch, every one from the checkpoint (whole, or inherited by a searched
    arch); the winner's recipe keeps the weights and the way they load, and `detector.train` of it loads the same."""
    out = tmp_path / "search"
    overrides = ["data.synthetic.num_train=8", "data.synthetic.num_val=4", "search.num_samples=2", "search.initial_points=2",
                 "search.proxy_epochs=1", "search.evolution.population=8", "search.evolution.generations=2",
                 "search.evolution.children_per_generation=64", "search.predictor.pretrain_points=8",
                 f"space.base.model.weights={tiny_checkpoint}", f"space.exclude=[{exclude}]"]
    result = subprocess.run([sys.executable, "-m", "nars.search", "--config", "experiments/quickstart_search.yaml",
                             "--output", str(out), "--set", *overrides], check=False, cwd=REPO, env=CLI_ENV, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 2 and "param.freeze_at" in trials and trials["inherited_share"].between(0.05, 1.0).all()
    text = (out / "best_recipe.yaml").read_text()
    recipe = yaml.safe_load(text)
    assert recipe["model"]["weights"] == str(tiny_checkpoint) and recipe["model"]["freeze_at"] in (0, 1, 2)
    assert f"# starts from model.weights '{tiny_checkpoint}'" in text
    if exclude.startswith("arch"):
        assert set(trials["init"]) == {"inherited"} and recipe["model"]["weights_fit"] == "exact"
        return
    assert set(trials["init"]) <= {"inherited", "partial"} and recipe["model"]["weights_fit"] == "inherit"
    winner = build_detector(recipe, num_classes=3).state_dict()  # what detector.train --config best_recipe.yaml starts from
    saved = torch.load(tiny_checkpoint, weights_only=True)["model"]
    stem, file_stem = winner["backbone.body.trunk0.0.0.weight"], saved["backbone.body.trunk0.0.0.weight"]
    shared = min(len(stem), len(file_stem))  # the stem width is searched: its leading filters are the file's
    assert torch.equal(stem[:shared], file_stem[:shared])
    report = (out / "report" / "report.md").read_text()
    assert "### Inherited weights" in report and (out / "report" / "inheritance.png").is_file()
