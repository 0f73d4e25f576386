"""`kill -9` of a real training process, then `--resume`.

* Killed mid-epoch: the engine writes `last.pt` at the end of every epoch, so the steps already taken in
  the interrupted epoch are lost and redone; the resumed run ends with as many optimizer steps as an
  uninterrupted one and, on one CPU thread with a fixed seed and no loader workers, the same weights.
* Killed while a checkpoint is being written: `save_checkpoint` writes a temporary file beside the target
  and renames it only when complete, so the previous `last.pt` stays intact and resuming works.
"""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from core.jsonl import read_jsonl
from detector.data.paths import resolve_data_paths
from detector.training.checkpoint import load_checkpoint
from detector.training.engine import train
from helpers.tiny import CLI_ENV, REPO, make_synthetic, tiny_config, train_args

EPOCHS = 3
NUM_TRAIN = 48  # batch 2: 24 iterations per epoch, about a second and a half on one core
ITERS_PER_EPOCH = NUM_TRAIN // 2
TIMEOUT_S = 300


def _kill_during_epoch(cmd: list[str], epoch: int) -> None:
    """Run `cmd` (a training with progress bars) and `kill -9` it as soon as its bar shows at least one finished
    iteration of `epoch` (counted from 1) but not all of them."""
    bar = re.compile(rf"epoch {epoch}/\d+:[^|]*\|[^|]*\| *(\d+)/(\d+)")
    proc = subprocess.Popen(cmd, cwd=REPO, env=CLI_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    seen = b""
    killed = False
    deadline = time.monotonic() + TIMEOUT_S
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stderr, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if not selector.select(timeout=1.0):
                    continue
                chunk = os.read(proc.stderr.fileno(), 1 << 16)
                if not chunk:
                    break  # the process ended before we saw the epoch in progress
                seen += chunk
                text = seen.decode(errors="replace")
                if any(0 < int(done) < int(total) for done, total in bar.findall(text)):
                    os.kill(proc.pid, signal.SIGKILL)
                    killed = True
                    break
    finally:
        if proc.poll() is None:
            proc.kill()  # timed out: leave nothing running
        proc.wait()
        proc.stderr.close()
    assert killed, f"epoch {epoch} was never seen in progress:\n{seen.decode(errors='replace')[-3000:]}"
    assert proc.returncode == -signal.SIGKILL


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, check=False, cwd=REPO, env=CLI_ENV, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def _max_abs_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max((a[k].double() - b[k].double()).abs().max().item() for k in a)


def test_kill_9_mid_epoch_then_resume_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    data = make_synthetic(tmp_path / "data", num_train=NUM_TRAIN, num_val=1)
    config = tiny_config(epochs=EPOCHS, ema_decay=0.9)  # hflip, momentum and EMA all in play
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    _run([sys.executable, "-m", *train_args(config, data, straight), "--no-progress"])

    killed_cmd = [sys.executable, "-m", *train_args(config, data, killed)]  # with progress bars: they show the iteration
    _kill_during_epoch(killed_cmd, epoch=2)
    # the kill came after epoch 1's checkpoint and before epoch 2's: epoch 2's finished steps are lost
    assert load_checkpoint(killed / "last.pt")["epoch"] == 1
    assert not (killed / "model_final.pt").exists()
    assert [r["epoch"] for r in read_jsonl(killed / "metrics.jsonl")] == [1]

    resumed = _run([*killed_cmd, "--resume"])
    assert f"resuming {killed} at epoch 2/{EPOCHS} (step {ITERS_PER_EPOCH})" in resumed.stdout
    assert f"training complete: {EPOCHS} epochs, {EPOCHS * ITERS_PER_EPOCH} iterations" in resumed.stdout

    for name in ("last.pt", "model_final.pt"):
        a, b = load_checkpoint(straight / name), load_checkpoint(killed / name)
        assert a["global_step"] == b["global_step"] == EPOCHS * ITERS_PER_EPOCH
        for key in ("model", "ema_model"):
            assert _max_abs_difference(a[key], b[key]) <= 1e-6, f"{name} {key}"
    # the scheduler is stepped once per optimizer step: its own count agrees
    assert load_checkpoint(killed / "last.pt")["scheduler"]["last_epoch"] == EPOCHS * ITERS_PER_EPOCH
    losses = [[r["loss"] for r in read_jsonl(out / "metrics.jsonl")] for out in (straight, killed)]
    assert len(losses[1]) == EPOCHS  # one line per epoch, no duplicate of the interrupted one
    assert max(abs(x - y) for x, y in zip(*losses)) <= 1e-6


# Run in a child process: save a newer version of the checkpoint at argv[1] through the real
# `save_checkpoint`, whose file handle writes the first argv[3] bytes, touches argv[2] and then hangs.
_STALLED_SAVE = """
import sys, time
from contextlib import contextmanager
from pathlib import Path

import detector.training.checkpoint as checkpoint

path, ready, limit = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
state = checkpoint.load_checkpoint(path)
state["epoch"] += 1
real_atomic_open = checkpoint.atomic_open


class StallingWriter:
    def __init__(self, handle):
        self.handle, self.written = handle, 0

    def write(self, data):
        data = bytes(data)[: limit - self.written]
        self.written += self.handle.write(data)
        if self.written >= limit:
            self.handle.flush()  # the partial bytes reach the file, as they would in a long write
            ready.touch()
            time.sleep(600)
        return len(data)

    def flush(self):
        self.handle.flush()


@contextmanager
def stalling_atomic_open(target, mode):
    with real_atomic_open(target, mode) as handle:
        yield StallingWriter(handle)


checkpoint.atomic_open = stalling_atomic_open
checkpoint.save_checkpoint(state, path)
"""


def test_kill_9_while_writing_a_checkpoint_keeps_the_previous_one(tmp_path: Path) -> None:
    root = make_synthetic(tmp_path / "data", num_val=1)
    data = resolve_data_paths(train_json=root / "train.json", train_images=root / "images")  # no val: no evaluation
    out = tmp_path / "run"
    train(tiny_config(epochs=1), data, out, progress=False)
    last = out / "last.pt"
    before = last.read_bytes()
    limit = len(before) // 2

    ready = tmp_path / "stalled"
    writer = subprocess.Popen([sys.executable, "-c", _STALLED_SAVE, str(last), str(ready), str(limit)],
                              cwd=REPO, env=CLI_ENV, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + TIMEOUT_S
    while not ready.exists() and writer.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    stalled = ready.exists()
    if writer.poll() is None:
        os.kill(writer.pid, signal.SIGKILL)  # kill -9 in the middle of the write
    _, stderr = writer.communicate()
    assert stalled, f"the writer never reached the middle of the checkpoint:\n{stderr[-3000:]}"
    assert writer.returncode == -signal.SIGKILL

    # the half-written new checkpoint is a temporary file; last.pt is byte for byte the previous one
    partial = list(out.glob(".last.pt.*"))
    assert len(partial) == 1 and partial[0].stat().st_size == limit
    assert last.read_bytes() == before
    assert load_checkpoint(last)["epoch"] == 1

    # the leftover does not disturb the next run: resuming removes it and continues from the intact epoch-1 checkpoint
    result = train(tiny_config(epochs=2), data, out, resume=True, progress=False)
    assert not partial[0].exists() and not list(out.glob(".*.tmp")), "the stale temporary file is removed"
    assert result.epochs_completed == 2 and result.global_step == 2 * 4
    assert load_checkpoint(last)["epoch"] == 2 and load_checkpoint(out / "model_final.pt")["global_step"] == 8
