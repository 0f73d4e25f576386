"""Architectures that inherit a checkpoint's weights: Once-for-All's rules, the report, bad files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import write_random_checkpoint

from core.errors import CheckpointError
from detector.config import load_config
from detector.modeling.model import build_detector
from detector.weights.d2go import to_d2go_state_dict
from detector.weights.inherit import overlap
from nars.trial.init import plan_inheritance
from search_spaces.fbnetv3.arch import ArchTemplate

TINY = "fbnetv3_a_dsmask_tiny"
TEMPLATE = ArchTemplate(TINY)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, torch.Tensor]]:
    """A random checkpoint of the tiny arch (3 classes) and its state dict."""
    path = write_random_checkpoint(tmp_path_factory.mktemp("inherit") / "source.pt", model={"arch": TINY})
    return path, torch.load(path, weights_only=True)["model"]


def inheriting(weights: Path | str, arch_values: dict[str, Any] | None = None, num_classes: int = 3) -> tuple[Any, Any]:
    """(model, config) of the tiny template with `arch_values` applied, inheriting from `weights`."""
    arch = TEMPLATE.build(arch_values) if arch_values else TINY
    config = load_config({"model": {"arch": arch, "weights": str(weights), "weights_fit": "inherit", "freeze_at": 0,
                                    "num_classes": num_classes}})
    return build_detector(config), config


def test_overlap_takes_leading_channels_and_the_kernel_centre():
    src, dst = overlap(torch.Size([8, 4, 5, 5]), torch.Size([6, 6, 3, 3]))
    assert src == (slice(0, 6), slice(0, 4), slice(1, 4), slice(1, 4))
    assert dst == (slice(0, 6), slice(0, 4), slice(0, 3), slice(0, 3))
    assert overlap(torch.Size([8, 4, 3, 3]), torch.Size([8, 4, 5, 5]))[1][2:] == (slice(1, 4), slice(1, 4))
    assert overlap(torch.Size([8]), torch.Size([8, 1])) is None  # another rank: no counterpart


def test_the_same_arch_inherits_every_network_tensor(source):
    path, saved = source
    model, config = inheriting(path)
    state = model.state_dict()
    network = [k for k in state if not k.endswith("num_batches_tracked")]
    assert all(torch.equal(state[k], saved[k]) for k in network)
    report = plan_inheritance(config)
    assert report.init == "inherited" and report.inherited_share == pytest.approx(1.0) and not report.partial


def test_a_shallower_group_keeps_its_first_blocks_and_a_deeper_one_adds_fresh_blocks(source):
    path, saved = source
    # trunk2: entries of 1 + 2 blocks (flat 0..2); depth 2 keeps flat 0 and 1 (the first repeat of entry 1)
    # trunk3a: 1 + 2 blocks, depth 5 adds two repeats of its last entry, which shifts trunk3b by two flat places
    model, config = inheriting(path, {"trunk2_depth": 2, "trunk3a_depth": 5})
    state = model.state_dict()
    for block in ("trunk2.0", "trunk2.1", "trunk3.0", "trunk3.1", "trunk3.2"):
        key = f"backbone.body.{block}.pwl.0.weight"
        assert torch.equal(state[key], saved[key]), key
    assert torch.equal(state["backbone.body.trunk3.5.pwl.0.weight"], saved["backbone.body.trunk3.3.pwl.0.weight"])  # trunk3b's first
    report = plan_inheritance(config)
    assert "backbone.body.trunk3.3.pwl.0.weight" in report.scratch and "backbone.body.trunk3.4.dw.0.weight" in report.scratch
    assert any(k.startswith("backbone.body.trunk2.2.") for k in report.unused)  # the dropped block
    assert report.init == "partial" and 0.5 < report.inherited_share < 1.0


def test_narrower_blocks_take_leading_channels_and_smaller_kernels_the_centre(source):
    path, saved = source
    model, config = inheriting(path, {"trunk2_width": 16, "trunk2_kernel": 3, "trunk1_expansion": 2})
    state = model.state_dict()
    # trunk2 block 0: 16 of 24 output channels (project conv and the next block's expand input)
    out = state["backbone.body.trunk2.0.pwl.0.weight"]
    assert out.shape[0] == 16 and torch.equal(out, saved["backbone.body.trunk2.0.pwl.0.weight"][:16])
    nxt = state["backbone.body.trunk2.1.pw.0.weight"]
    assert torch.equal(nxt, saved["backbone.body.trunk2.1.pw.0.weight"][: nxt.shape[0], :16])
    norm = state["backbone.body.trunk2.0.pwl.1.running_var"]
    assert torch.equal(norm, saved["backbone.body.trunk2.0.pwl.1.running_var"][:16])
    # 5x5 depthwise kernel -> its centre 3x3
    assert torch.equal(state["backbone.body.trunk2.0.dw.0.weight"], saved["backbone.body.trunk2.0.dw.0.weight"][:, :, 1:4, 1:4])
    # expansion 3 -> 2 on trunk1 block 0: 16 of 24 mid channels
    mid = state["backbone.body.trunk1.0.dw.0.weight"]
    assert torch.equal(mid, saved["backbone.body.trunk1.0.dw.0.weight"][: mid.shape[0]])
    report = plan_inheritance(config)
    assert "backbone.body.trunk2.0.dw.0.weight" in report.partial and report.init == "partial"


def test_wider_and_larger_tensors_get_the_checkpoint_in_their_leading_channels_and_centre(source):
    path, saved = source
    model, config = inheriting(path, {"trunk2_width": 32, "trunk2_kernel": 7})
    state = model.state_dict()
    wide = state["backbone.body.trunk2.0.pwl.0.weight"]
    assert wide.shape[0] == 32 and torch.equal(wide[:24], saved["backbone.body.trunk2.0.pwl.0.weight"])
    kernel = state["backbone.body.trunk2.1.dw.0.weight"]  # 72 x 3x3 in the file -> the centres of the first 72 of 96 7x7
    file_kernel = saved["backbone.body.trunk2.1.dw.0.weight"]
    assert kernel.shape[-1] == 7 and torch.equal(kernel[: len(file_kernel), :, 2:5, 2:5], file_kernel)
    assert not torch.equal(kernel[:, :, 0, 0], torch.zeros_like(kernel[:, :, 0, 0]))  # outside: the fresh initialisation
    report = plan_inheritance(config)
    copied = sum(saved[k].numel() for k in ("backbone.body.trunk2.0.pwl.0.weight",))
    assert report.copied_params >= copied


def test_se_without_a_counterpart_is_initialised_and_reported(source):
    path, _ = source
    _, config = inheriting(path, {"trunk2_se": True})
    report = plan_inheritance(config)
    se = [k for k in report.scratch if ".se." in k]
    assert se and all(k.startswith("backbone.body.trunk2.") for k in se)
    assert report.init == "partial"


def test_another_class_count_initialises_only_the_class_specific_predictor(source):
    path, _ = source
    _, config = inheriting(path, num_classes=1)
    report = plan_inheritance(config)
    assert sorted(report.scratch) == sorted(f"roi_heads.box_predictor.{n}.{p}" for n in ("cls_score", "bbox_pred") for p in ("weight", "bias"))
    assert report.init == "inherited" and 0.95 < report.inherited_share < 1.0


def test_a_d2go_layout_file_without_a_config_inherits_through_its_registered_arch(source, tmp_path):
    _, saved = source
    d2go = tmp_path / "model_final.pth"
    torch.save({"model": to_d2go_state_dict(saved)}, d2go)
    model, config = inheriting(d2go, {"trunk2_width": 16})
    report = plan_inheritance(config)
    assert report.source_arch == TINY and report.init == "partial"
    assert torch.equal(model.state_dict()["backbone.body.trunk1.0.pwl.0.weight"], saved["backbone.body.trunk1.0.pwl.0.weight"])


@pytest.mark.parametrize(
    "write, message",
    [
        (lambda p, s: p.write_bytes(b"\x00garbage"), r"bad\.pt: not a readable checkpoint"),
        (lambda p, s: torch.save({"model": {"conv.weight": torch.zeros(4, 3, 3, 3)}}, p), r"bad\.pt: its tensors match no registered FBNet arch"),
        (lambda p, s: torch.save({"model": {**s, "roi_heads.box_predictor.bbox_pred.weight": torch.zeros(12, 80)}}, p),
         r"bad\.pt: its box predictor has 4 class scores but 12 box rows"),
    ],
    ids=["unreadable", "other-family", "class-layout"],
)
def test_a_file_that_cannot_be_inherited_from_is_one_line_naming_it(source, tmp_path, write, message):
    bad = tmp_path / "bad.pt"
    write(bad, source[1])
    with pytest.raises(CheckpointError, match=message) as caught:
        inheriting(bad, {"trunk2_width": 16})
    assert "\n" not in str(caught.value)


def test_the_checkpoint_is_read_once_per_process_and_again_when_rewritten(tmp_path):
    from detector.weights import inherit

    path = write_random_checkpoint(tmp_path / "once.pt", model={"arch": TINY})
    _, config = inheriting(path, {"trunk2_width": 16})
    before = inherit._read_source.cache_info()
    for _ in range(3):
        plan_inheritance(config)
    after = inherit._read_source.cache_info()
    assert after.misses == before.misses and after.hits >= before.hits + 3  # the model above read it: no trial reads it again
    write_random_checkpoint(path, model={"arch": TINY}, seed=1)  # a new file version is read again
    plan_inheritance(config)
    assert inherit._read_source.cache_info().misses == after.misses + 1


def test_a_resumed_run_ignores_how_its_fresh_start_loaded_weights(tmp_path):
    from core.errors import ConfigError
    from detector.config import config_to_dict
    from detector.training.resume import check_resume_config

    config = load_config({"model": {"weights": None, "freeze_at": 0}})
    saved = config_to_dict(config)
    del saved["model"]["weights_fit"]  # a run saved before the field existed
    check_resume_config(saved, load_config({"model": {"weights": "a.pt", "weights_fit": "inherit", "freeze_at": 0}}), tmp_path)
    with pytest.raises(ConfigError, match="model.freeze_at 0 -> 1"):
        check_resume_config(saved, load_config({"model": {"weights": "a.pt", "freeze_at": 1}}), tmp_path)
