"""The Ray Tune trainable: one search trial = the detector's own training loop on the proxy budget.

The point becomes the trial's detector config (`nars.trial.proxy.trial_config`: the point on the proxy
budget), trains with `detector.training.engine.train` (as a proxy of the final run: a warmup longer than the trial
is scaled to its share of the final schedule) and reports val AP per epoch with `tune.report`, with
`budget` = epochs done / proxy epochs (a trial stopped early carries its share), each report carrying
a `tune.Checkpoint` of `last.pt` so that a restored search resumes the trial instead of restarting
it. A crash or a diverged loss raises: Ray records the trial as failed with its message, and the
search goes on. Points that break a constraint (only the Optuna baselines propose them) are not
trained; they report `infeasible` and no accuracy (NaN), so no predictor learns a made-up AP for them.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from ray import tune

from detector.evaluation.metric_names import METRIC_KEYS
from detector.training.engine import train
from detector.training.heap import release_free_heap
from detector.training.loop import TrainCallback
from detector.training.run_folder import CONFIG, LAST, METRICS
from nars.trial.init import init_columns
from nars.trial.keys import BUDGET_KEY, INFEASIBLE_KEY, point_of
from nars.trial.proxy import final_run_values
from nars.trial.spec import TrialSpec

REPORTED = (*METRIC_KEYS, "loss", "lr", "epoch_time_s", "images_per_s")


class TuneReporter(TrainCallback):
    """Report every epoch's metrics and costs to Ray Tune, with a checkpoint to resume from."""

    def __init__(self, extra: dict[str, Any], proxy_epochs: int) -> None:
        self.extra = extra
        self.proxy_epochs = proxy_epochs

    def on_epoch_end(self, epoch: int, metrics: dict[str, Any], checkpoint_path: Path) -> None:
        values = {k: float(metrics[k]) for k in REPORTED if isinstance(metrics.get(k), (int, float))}
        values = {k: v for k, v in values.items() if math.isfinite(v)}
        values[BUDGET_KEY] = epoch / self.proxy_epochs
        with tempfile.TemporaryDirectory() as folder:
            for name in (LAST, CONFIG, METRICS):
                source = checkpoint_path.parent / name
                if source.is_file():
                    shutil.copy2(source, Path(folder) / name)
            tune.report({"epoch": epoch, **values, **self.extra}, checkpoint=tune.Checkpoint.from_directory(folder))


def run_trial(config: dict[str, Any], *, spec: TrialSpec) -> None:
    """Ray Tune function trainable (bind `spec` with `tune.with_parameters`).

    The trial reports its FLOPs and params, its `init` and `inherited_share` (`nars.trial.init`), and its latency
    when a constraint or an objective (`spec.latency_objective`) needs it, so that the measured Pareto front is in the
    search's own costs.

    Training files go to `spec.work_dir/<trial id>`, outside the trial folder that Ray syncs to its
    storage: only the per-epoch `tune.Checkpoint` travels, not every intermediate file.
    """
    torch.set_num_threads(max(1, spec.threads))
    release_free_heap()  # what the worker's previous trial freed (`reuse_actors` runs trials in new threads)
    space = spec.space()
    point = point_of(config)
    detector_config = spec.config(space, point)

    cost_model = spec.costs.model(space)
    feasible, cost = cost_model.meets(point, spec.costs.constraints)
    if feasible and spec.latency_objective and cost.latency_ms is None:
        cost = cost_model.measure(point, latency=True)
    extra: dict[str, Any] = {"flops": float(cost.flops), "params": float(cost.params), **init_columns(detector_config)}
    if cost.latency_ms is not None:
        extra["latency_ms"] = float(cost.latency_ms)
    if not feasible:
        tune.report({"epoch": 0, "ap": math.nan, BUDGET_KEY: 0.0, INFEASIBLE_KEY: 1.0, **extra})
        return

    output = Path(spec.work_dir) / tune.get_context().get_trial_id()
    checkpoint = tune.get_checkpoint()
    if checkpoint is None:
        shutil.rmtree(output, ignore_errors=True)  # a retried trial without a checkpoint starts afresh
    else:
        with checkpoint.as_directory() as folder:
            output.mkdir(parents=True, exist_ok=True)
            for item in Path(folder).iterdir():
                shutil.copy2(item, output / item.name)
    train(detector_config, spec.paths, output, resume=checkpoint is not None, device=spec.device,
          callbacks=[TuneReporter({**extra, INFEASIBLE_KEY: 0.0}, spec.proxy_epochs)], progress=False,
          proxy_for_epochs=final_run_values(space, point)["train.epochs"])
