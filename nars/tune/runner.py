"""Ray Tune wiring of a search: Ray itself and the Tuner that runs detector trials.

One Tune experiment per call of `run_tune` (the search's, or one per budget of `--calibrate`), resumable
with `Tuner.restore`. Ray is imported inside the functions, so that the CLI's `--help` and config errors
come fast.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from detector.data.paths import DataPaths
from nars.config.experiment import Experiment
from nars.records import run_folder

if TYPE_CHECKING:
    from nars.trial.costs import CostSettings
    from nars.trial.spec import TrialFn

log = logging.getLogger(__name__)


def init_ray(address: str | None) -> Path | None:
    """Join the cluster at `address`, or start a local Ray of our own (nothing when Ray already runs here).
    Returns the session folder of a Ray started here, whose logs `keep_ray_logs` copies into the run folder."""
    # Tune warns about frequent experiment snapshots whenever short trials checkpoint every epoch;
    # that is expected here and the warning would bury the progress lines.
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    import ray

    if ray.is_initialized():
        return None
    if address:  # the cluster's logs live on its nodes, under each one's session folder
        ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
        return None
    # "local": a new Ray of our own even when this machine runs a cluster (`ray start`), which a bare
    # ray.init() would join, and then refuse our num_cpus
    context = ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False, logging_level=logging.WARNING,
                       log_to_driver=False)
    return Path(context.address_info["session_dir"])


def keep_ray_logs(session: Path | None, output: Path) -> None:
    """Copy Ray's own logs (its processes' output, where a worker that died says why) into `RUN/ray_logs/<session>`.

    Ray writes them under its temporary folder, because its sockets live there and a socket path is limited to 107
    bytes; there nobody looks for them and a reboot removes them. Registered with `atexit` by the search, so a failed
    or interrupted search keeps them too; a resumed one adds its own session beside the first."""
    if session is None or not (session / "logs").is_dir():
        return
    try:
        shutil.copytree(session / "logs", output / run_folder.RAY_LOGS / session.name, dirs_exist_ok=True,
                        ignore_dangling_symlinks=True)
    except (OSError, shutil.Error) as exc:  # a log that vanished mid-copy: the rest is kept, and the search's result stands
        log.warning("Ray's logs were not all copied from %s: %s", session / "logs", exc)


def trial_logger(total: int, metric: str) -> Any:
    """A Tune callback printing one line per finished trial (Ray's own tables are too wide)."""
    from ray.tune import Callback

    def finished(trials: list, trial: Any) -> int:
        """Trials finished so far, this one included: counted from Tune's list, so a resumed search goes on
        from the trials it restored (Tune marks this one finished only after the callbacks ran)."""
        return sum(other.is_finished() for other in trials if other is not trial) + 1

    class TrialLogger(Callback):
        def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            result = trial.last_result or {}
            value = result.get(metric)
            shown = f"{metric}={value:.2f}" if isinstance(value, (int, float)) else f"{metric}=-"
            flops = result.get("flops")
            cost = f" flops={flops / 1e9:.2f}G" if isinstance(flops, (int, float)) else ""
            print(f"[{finished(trials, trial)}/{total}] trial {trial.trial_id} done: {shown}{cost} epochs={result.get('epoch', 0)}",
                  flush=True)

        def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            print(f"[{finished(trials, trial)}/{total}] trial {trial.trial_id} FAILED (recorded; the search goes on)", flush=True)

    return TrialLogger()


def trial_dirname(trial: Any) -> str:
    """Short trial folders (Ray's default packs the whole config into the name)."""
    return f"trial_{trial.trial_id}"


def run_tune(experiment: Experiment, space_spec: dict[str, Any], paths: DataPaths, costs: CostSettings, output: Path, storage: str, name: str,
             searcher: Any, num_samples: int, proxy_epochs: int, resume: bool, device: str, asha: bool, trial_fn: TrialFn | None = None) -> Any:
    """Run (or resume) one Tune experiment of detector trials; returns its ResultGrid, or raises KeyboardInterrupt
    after a Ctrl-C stopped it (Tune saved its state; the search then writes no table and no winner).

    `trial_fn` is the function trainable (default `nars.tune.trainable.run_trial`); another one takes the same
    `spec` (`nars.trial.spec.TrialSpec`; e.g. a wrapper that injects faults, or a cheap stand-in objective).
    """
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search import ConcurrencyLimiter

    from nars.trial.spec import TrialSpec
    from nars.tune.state import StateSnapshot, recover_experiment_state

    if trial_fn is None:
        from nars.tune.trainable import run_trial as trial_fn

    # Ray's own start-up block names its temporary session folder (/tmp/ray/session_*) as the TensorBoard folder; the
    # legacy output engine at verbose=0 prints nothing, and the line below names the run folder instead. Ray's session
    # logs stay in its temporary folder: ray.init(_temp_dir=RUN/...) would put Ray's sockets under the run folder, and a
    # socket path is limited to 107 bytes (about 45 for the folder itself).
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    s = experiment.search
    spec = TrialSpec(space_spec, paths, proxy_epochs, costs, latency_objective="latency_ms" in s.cost_objectives,
                     threads=max(1, int(s.cpus_per_trial)), device=device, work_dir=str(output / run_folder.TRIALS))
    trainable = tune.with_resources(tune.with_parameters(trial_fn, spec=spec), {"cpu": s.cpus_per_trial, "gpu": s.gpus_per_trial})
    path = f"{storage.rstrip('/')}/{name}"
    local = storage.removeprefix("file://") if storage.startswith("file://") or "://" not in storage else None
    snapshot = None if local is None else output / run_folder.RAY_STATE_SNAPSHOT.format(name)
    if resume and tune.Tuner.can_restore(path):
        print(f"resuming {path}: finished trials are kept, unfinished ones continue from their checkpoints")
        if snapshot is not None and (note := recover_experiment_state(Path(local) / name, snapshot)):
            print(note)
        tuner = tune.Tuner.restore(path, trainable=trainable, resume_errored=False, restart_errored=False)
    else:
        # metric and mode are set once: in the TuneConfig, unless the searcher fixed them itself (Optuna)
        own = getattr(searcher, "metric", None) is not None
        scheduler = None
        if asha and s.asha is not None:
            # a calibrated budget may be shorter than the configured grace period
            scheduler = ASHAScheduler(time_attr="epoch", max_t=proxy_epochs, grace_period=min(s.asha.grace_period, proxy_epochs),
                                      reduction_factor=s.asha.reduction_factor,
                                      **({"metric": s.metric, "mode": "max"} if own else {}))
        tuner = tune.Tuner(
            trainable,
            tune_config=tune.TuneConfig(
                search_alg=ConcurrencyLimiter(searcher, max_concurrent=s.max_concurrent),
                scheduler=scheduler, metric=None if own else s.metric, mode=None if own else "max", num_samples=num_samples,
                trial_dirname_creator=trial_dirname, reuse_actors=True,  # one worker process trains trial after trial (no re-imports)
            ),
            run_config=tune.RunConfig(
                name=name, storage_path=storage, verbose=0,
                callbacks=[trial_logger(num_samples, s.metric)] + ([StateSnapshot(snapshot)] if snapshot is not None else []),
                failure_config=tune.FailureConfig(max_failures=s.max_failures),
                checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
            ),
        )
    print(f"Ray Tune's state and results: {path}; each trial's training files (TensorBoard events in tb/): {output / run_folder.TRIALS}; "
          f"Ray's own logs (local Ray): {output / run_folder.RAY_LOGS}", flush=True)
    with tune_interrupt() as interrupted:
        results = tuner.fit()
    if interrupted.is_set():  # nothing may name a winner from part of a search
        print("interrupted: Ray Tune saved its state; run the same command with --resume to continue", file=sys.stderr)
        raise KeyboardInterrupt  # what Tune swallowed: `run_cli` exits 130
    return results


@contextlib.contextmanager
def tune_interrupt() -> Iterator[threading.Event]:
    """Ctrl-C during `Tuner.fit`: Tune's graceful stop (it saves its state), and an event that says it happened.

    Tune catches SIGINT itself and returns from `fit` as if the run had ended. With `TUNE_DISABLE_SIGINT_HANDLER`
    SIGINT is ours; we pass it on as SIGUSR1, which Tune always treats as the same stop. A second Ctrl-C stops at once.
    """
    interrupted = threading.Event()

    def on_sigint(signum: int, frame: Any) -> None:
        if interrupted.is_set() or signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL:
            raise KeyboardInterrupt  # a second Ctrl-C, or one before Tune's stop is set up (SIGUSR1 would kill us)
        interrupted.set()
        os.kill(os.getpid(), signal.SIGUSR1)

    if threading.current_thread() is not threading.main_thread():  # signal handlers belong to the main thread
        yield interrupted
        return
    previous, setting = signal.signal(signal.SIGINT, on_sigint), os.environ.get("TUNE_DISABLE_SIGINT_HANDLER")
    os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, previous)
        if setting is None:
            os.environ.pop("TUNE_DISABLE_SIGINT_HANDLER")
        else:
            os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = setting
