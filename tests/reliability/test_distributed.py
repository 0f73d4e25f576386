"""A real `torchrun --nproc_per_node 2` training (gloo, CPU) against one process with the doubled batch
(issue 9, reliability): the per-epoch loss curves from metrics.jsonl agree, tightly for naiveSyncBN
and loosely for plain BN.

The setup makes 2 processes x 2 images the same computation as 1 process x 4 images up to float
rounding, so that a tight tolerance can hold:

* 4 training images and a global batch of 4: every epoch is one step over all images, so the union of the
  two processes' batches is the one-process batch whatever order the samplers draw (the one-process
  loader and `DistributedSampler` shuffle differently); the per-epoch loss is that step's loss;
* no flips (the processes draw augmentation from their own random streams);
* every loss averages over the same number of samples on each process, so that the mean of the two
  processes' losses (what DDP's gradient average and the logged loss use) is the loss over the union:
  RPN IoU thresholds [0.5, 0.5] (no ignored anchors) and a sampling batch above the anchor count sample
  every anchor; one object per image, a fixed number of proposals per image (post_nms_topk_train) and a
  RoI sampling batch above proposals + objects sample every RoI;
* a small learning rate: proposal selection is discrete (top-k of near-equal objectness scores) and
  larger steps amplify float rounding into different selections after a few steps.

SyncBN is not run: the engine refuses it on CPU (torch's SyncBatchNorm has no gloo kernel), which
tests/test_engine.py checks.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from _tiny import CLI_ENV, REPO, make_synthetic, tiny_config, train_args
from detector.curves import read_metrics

EPOCHS = 6
TIMEOUT_S = 300


def _config(norm: str) -> dict[str, Any]:
    config = tiny_config(epochs=EPOCHS, batch_size=4, lr=0.01, augment={"hflip_prob": 0.0})
    config["model"]["norm"] = norm
    config["model"]["rpn"].update(iou_thresholds=[0.5, 0.5], batch_size_per_image=512, post_nms_topk_train=16)
    config["model"]["roi_heads"]["batch_size_per_image"] = 512
    return config


def _train(launcher: list[str], config: dict[str, Any], data: Path, output: Path) -> list[dict[str, Any]]:
    """Run `detector.train` under `launcher` (python or torchrun) and return its metrics.jsonl records."""
    cmd = [*launcher, "-m", *train_args(config, data, output), "--no-progress"]
    proc = subprocess.run(cmd, check=False, cwd=REPO, env=CLI_ENV, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return read_metrics(output / "metrics.jsonl")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_synthetic(tmp_path_factory.mktemp("ddp_data"), num_train=4, num_val=1, max_objects=1)


@pytest.fixture(scope="module")
def one_process(data: Path, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The reference: one process, batch 4. On one process naiveSyncBN is plain BN (tests/test_norms.py),
    so this run serves both norms."""
    return _train([sys.executable], _config("BN"), data, tmp_path_factory.mktemp("one") / "run")


def _relative_difference(a: float, b: float) -> float:
    return abs(a - b) / abs(a)


@pytest.mark.parametrize(
    ("norm", "curve_tolerance"),
    [
        # measured: max relative difference 3e-4 over the 6 epochs (rounding, amplified by training)
        pytest.param("naiveSyncBN", 5e-3, id="naiveSyncBN"),
        # plain BN normalises each process's 2 images with their own statistics, not the 4 images' ones:
        # a different computation, only close. Measured: up to 8% per epoch.
        pytest.param("BN", 0.15, id="BN"),
    ],
)
def test_torchrun_two_processes_match_one_process_with_the_doubled_batch(
    norm: str, curve_tolerance: float, data: Path, one_process: list[dict[str, Any]], tmp_path: Path
) -> None:
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    two = _train(launcher, _config(norm), data, tmp_path / "run")

    # one metrics line per epoch (only rank 0 writes), one optimizer step per epoch in both runs
    assert [r["global_step"] for r in two] == [r["global_step"] for r in one_process] == list(range(1, EPOCHS + 1))
    # the first epoch's loss is computed before any update: with statistics over the union batch the
    # forward pass is the one-process one, with plain BN it is not
    first = max(_relative_difference(one_process[0][k], two[0][k]) for k in two[0] if k.startswith("loss"))
    assert (first < 1e-5) == (norm == "naiveSyncBN"), f"first-epoch losses differ by {first:.2e} (relative)"
    curve = max(_relative_difference(a["loss"], b["loss"]) for a, b in zip(one_process, two))
    assert curve < curve_tolerance, f"loss curves differ by up to {curve:.2e} (relative)"
