"""A real `torchrun --nproc_per_node 2` training (gloo, CPU) against one process with the doubled batch
(a check that holds on any CPU for the right reason).

What is compared is deterministic up to float32 rounding: the losses of the first step, computed before
any update, and the update of that one optimizer step, i.e. the gradient. A curve over several steps is
not compared: rounding that differs between CPUs (oneDNN picks other kernels) flips discrete choices in
later steps and the curves drift apart for reasons that have nothing to do with the norm.

The setup makes 2 processes x 2 images the same computation as 1 process x 4 images up to rounding:

* 4 training images and a global batch of 4: one step sees all images in both runs, whatever order the
  samplers draw (the one-process loader and `DistributedSampler` shuffle differently);
* no flips (the processes draw augmentation from their own random streams);
* every image contributes the same number of terms to every loss, so that the mean of the two processes'
  losses (what DDP's gradient average and the logged loss use) is the loss over the union: the RPN keeps
  the 256 best-scored of the ~360 anchors of every image (NMS off at `nms_thresh` 1.0; without the cap,
  clipping removes a different number of degenerate boxes per image), every anchor and every RoI is
  sampled (sampling batches above the counts, positive fraction 1.0, RPN IoU thresholds without an
  ignored band), which also leaves nothing random in the step;
* SGD without warmup and weight decay: the step moves each weight by exactly `-lr * gradient`.

naiveSyncBN normalises with the statistics of the union batch, so both runs compute the same function.
Plain BN normalises each process's 2 images with their own statistics: a different computation, which the
same comparison must show. SyncBN is not run: the engine refuses it on CPU (torch's SyncBatchNorm has no
gloo kernel), which tests/test_engine.py checks.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from core.jsonl import read_jsonl
from helpers.tiny import CLI_ENV, REPO, make_synthetic, tiny_config, train_args

TIMEOUT_S = 300
# A large step: SGD's first update is exactly -lr * gradient, so (w0 - w1) / lr is the gradient, and with
# lr 100 the float32 rounding of w0 and w1 (eps * |w| / lr) is far below the rounding of the gradient itself.
LR = 100.0
# Float32 rounding, eps = 1.2e-7. A loss is a sum over ~1e3 terms after ~1e2 layers whose sums have ~1e4
# terms, added in another order (two half batches plus an all-reduce, other kernels for batch 2 than for
# batch 4): relative differences of order 1e2-1e3 eps, so 1e-4 (~1e3 eps). The gradient runs back through
# the same layers again, and each BatchNorm backward subtracts batch means of products of nearly equal
# size, which amplifies the rounding by another factor of order 10: 1e-3 for the whole gradient vector,
# 1e-2 for a single tensor (small tensors' sums have fewer terms to average their rounding out).
LOSS_TOLERANCE = 1e-4
GRADIENT_TOLERANCE = 1e-3
TENSOR_GRADIENT_TOLERANCE = 1e-2
# Plain BN's per-process statistics change the function itself: differences of order 1e-2 and more.
BN_DIFFERENCE = 1e-3


def _config(norm: str, lr: float = LR) -> dict[str, Any]:
    config = tiny_config(epochs=1, batch_size=4, lr=lr, warmup_iters=0, weight_decay=0.0, augment={"hflip_prob": 0.0})
    config["model"]["norm"] = norm
    config["model"]["rpn"].update(iou_thresholds=[0.5, 0.5], batch_size_per_image=1024, positive_fraction=1.0, nms_thresh=1.0,
                                  pre_nms_topk_train=2000, post_nms_topk_train=256)
    config["model"]["roi_heads"].update(batch_size_per_image=1024, positive_fraction=1.0)
    return config


def _train(launcher: list[str], config: dict[str, Any], data: Path, output: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Run `detector.train` under `launcher` (python or torchrun): the step's metrics record and the trained weights."""
    cmd = [*launcher, "-m", *train_args(config, data, output), "--no-progress"]
    proc = subprocess.run(cmd, check=False, cwd=REPO, env=CLI_ENV, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = read_jsonl(output / "metrics.jsonl")
    assert [r["global_step"] for r in records] == [1], "one optimizer step"
    weights = torch.load(output / "model_final.pt", weights_only=True)["model"]
    return records[0], weights


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_synthetic(tmp_path_factory.mktemp("ddp_data"), num_train=4, num_val=1, max_objects=1)


@pytest.fixture(scope="module")
def initial(data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, torch.Tensor]:
    """The weights before the step, as the engine initialises them: a run whose step is too small to move
    any float32 weight (lr 1e-30 times a gradient is far below the rounding of every nonzero weight)."""
    return _train([sys.executable], _config("BN", lr=1e-30), data, tmp_path_factory.mktemp("init") / "run")[1]


@pytest.fixture(scope="module")
def one_process(data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The reference: one process, batch 4. On one process naiveSyncBN is plain BN (tests/test_norms.py),
    so this run serves both norms."""
    return _train([sys.executable], _config("BN"), data, tmp_path_factory.mktemp("one") / "run")


def _gradients(initial: dict[str, torch.Tensor], trained: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """-(w1 - w0) / lr for every parameter (BN running statistics move without a gradient: left out)."""
    return {k: (initial[k] - trained[k]).double() / LR for k in initial if initial[k].is_floating_point() and "running_" not in k}


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


@pytest.mark.parametrize("norm", ["naiveSyncBN", "BN"])
def test_torchrun_two_processes_match_one_process_with_the_doubled_batch(
    norm: str, data: Path, initial: dict[str, torch.Tensor], one_process: tuple[dict[str, Any], dict[str, torch.Tensor]], tmp_path: Path
) -> None:
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    two_record, two_weights = _train(launcher, _config(norm), data, tmp_path / "run")
    one_record, one_weights = one_process

    losses = {k: abs(two_record[k] - one_record[k]) / abs(one_record[k]) for k in one_record if k.startswith("loss")}
    assert len(losses) == 5, losses  # the total and its four parts
    reference, got = _gradients(initial, one_weights), _gradients(initial, two_weights)
    whole_reference = torch.cat([g.flatten() for g in reference.values()])
    whole = _relative(torch.cat([got[k].flatten() for k in reference]), whole_reference)
    # per tensor where the gradient is not itself rounding noise (a conv bias before a BN gets ~0 exactly)
    large = [k for k in reference if reference[k].norm() > 1e-4 * whole_reference.norm()]
    assert len(large) > 50, "the step moves the trained tensors"
    per_tensor = max(_relative(got[k], reference[k]) for k in large)
    print(f"\n{norm}: relative differences of the losses {losses}, of the gradients {whole:.2e} (per tensor max {per_tensor:.2e})")
    if norm == "naiveSyncBN":
        assert max(losses.values()) < LOSS_TOLERANCE, f"first-step losses differ: {losses}"
        assert whole < GRADIENT_TOLERANCE, f"gradients differ by {whole:.2e} (relative norm)"
        assert per_tensor < TENSOR_GRADIENT_TOLERANCE, f"a tensor's gradient differs by {per_tensor:.2e}"
    else:
        assert max(losses.values()) > BN_DIFFERENCE, f"plain BN should change the losses: {losses}"
        assert whole > BN_DIFFERENCE, f"plain BN should change the gradients, differ by only {whole:.2e}"
