"""`python -m nars.search --config experiments/X.yaml`: a NARS search on Ray Tune, end to end.

Trials train candidate detectors on the proxy budget (Ray Tune, local or `--address` cluster),
the searcher learns from them round by round, then a predictor-only evolutionary search names the
winning recipe. Outputs in the run folder: `trials.csv`/`trials.parquet` (one row per trial),
`curves.csv` (trial, epoch, metrics), `best_recipe.yaml` (a complete detector config for
`python -m detector.train --config`), `pareto_recipes/` (multi-objective), `predictor.pt`,
`search_config.yaml` (resolved experiment), `calibration.json` (with `--calibrate`), Ray's
experiment state under `ray/` for `--resume`, and `report/` (`nars.analysis`: report.md and plots).
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from core.atomic import atomic_open, atomic_write_text, remove_stale_temporaries
from core.errors import ConfigError, UserError, run_cli
from detector.config import config_to_dict
from nars.analysis.run import RAY_NAME
from nars.analysis.tables import LABELLED, curve_part, curve_table, trial_row, trial_table
from nars.calibration import CONFIDENCE, agreement, choose_budget
from nars.evolution import evolve
from nars.experiment import Experiment, load_experiment
from nars.predictor import make_predictor
from nars.pretraining import FreeStatPretraining
from nars.proxy import final_run_values, proxy_space_spec, warn_shadowed_base
from nars.searcher import NARSSearcher, point_key
from nars.settings import SEARCHERS, RoundSettings

log = logging.getLogger("nars.search")
CALIBRATION_NAME = "calibration"
TrialFn = Callable[..., None]  # a Ray Tune function trainable taking `nars.trainable.run_trial`'s keyword arguments


# ---------------------------------------------------------------------- costs and constraints


class Costs:
    """Cost callables for the searcher and evolution, backed by one cached `CostModel`."""

    def __init__(self, space: Any, constraints: list[str], cache_path: Path, latency_threads: int) -> None:
        from search_spaces import CostModel, parse_constraints

        self._args = (space, list(constraints), cache_path, latency_threads)
        self.constraints = parse_constraints(constraints)
        self.model = CostModel(space, cache_path=cache_path, latency_threads=latency_threads)

    def __getstate__(self) -> tuple[Any, ...]:
        """Tune pickles the searcher with its callables; the cost model's caches are rebuilt (disk cache kept)."""
        return self._args

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self.__init__(*state)  # type: ignore[misc]

    def _measure(self, point: dict[str, Any], latency: bool = False) -> Any:
        return self.model.measure(point, latency=latency)

    def feasible(self, points: list[dict[str, Any]]) -> np.ndarray:
        return np.array([self.model.meets(point, self.constraints)[0] for point in points], dtype=bool)

    free_stat_names = ("log FLOPs", "log params")

    def free_stats(self, points: list[dict[str, Any]]) -> np.ndarray:
        """log FLOPs and log params: free statistics for predictor pretraining."""
        costs = [self._measure(p) for p in points]
        return np.log(np.array([[c.flops, c.params] for c in costs], dtype=np.float64))

    def objectives(self, names: list[str]) -> Any:
        def values(points: list[dict[str, Any]]) -> dict[str, np.ndarray]:
            costs = [self._measure(p, latency="latency_ms" in names) for p in points]
            return {n: np.array([float(getattr(c, n)) for c in costs]) for n in names}

        return values


# ---------------------------------------------------------------------- Ray Tune


def init_ray(address: str | None) -> None:
    # Tune warns about frequent experiment snapshots whenever short trials checkpoint every epoch;
    # that is expected here and the warning would bury the progress lines.
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    import ray

    if ray.is_initialized():
        return
    if address:
        ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
    else:
        # "local": a new Ray of our own even when this machine runs a cluster (`ray start`), which a bare
        # ray.init() would join, and then refuse our num_cpus
        ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)


def build_searcher(experiment: Experiment, space: Any, costs: Costs, max_trials: int) -> Any:
    s = experiment.search
    feasible = costs.feasible if costs.constraints else None
    if s.searcher == "nars":
        settings = RoundSettings.model_validate(s.model_dump(include=set(RoundSettings.model_fields)))
        return NARSSearcher(
            space, metric=s.metric, mode="max", max_trials=max_trials, settings=settings, feasible=feasible,
            free_stats=costs.free_stats, costs=costs.objectives(s.cost_objectives) if s.cost_objectives else None, seed=s.seed,
        )
    if s.searcher == "random":
        from nars.baselines import RandomSearcher

        return RandomSearcher(space, max_trials=max_trials, feasible=feasible, seed=s.seed)
    from nars.baselines import optuna_searcher

    return optuna_searcher(space, s.searcher, seed=s.seed, metric=s.metric, mode="max")


def trial_logger(total: int, metric: str) -> Any:
    """A Tune callback printing one line per finished trial (Ray's own tables are too wide)."""
    from ray.tune import Callback

    class TrialLogger(Callback):
        def __init__(self) -> None:
            self.done = 0

        def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self.done += 1
            result = trial.last_result or {}
            value = result.get(metric)
            shown = f"{metric}={value:.2f}" if isinstance(value, (int, float)) else f"{metric}=-"
            flops = result.get("flops")
            cost = f" flops={flops / 1e9:.2f}G" if isinstance(flops, (int, float)) else ""
            print(f"[{self.done}/{total}] trial {trial.trial_id} done: {shown}{cost} epochs={result.get('epoch', 0)}", flush=True)

        def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self.done += 1
            print(f"[{self.done}/{total}] trial {trial.trial_id} FAILED (recorded; the search goes on)", flush=True)

    return TrialLogger()


def trial_dirname(trial: Any) -> str:
    """Short trial folders (Ray's default packs the whole config into the name)."""
    return f"trial_{trial.trial_id}"


def run_tune(experiment: Experiment, space_spec: dict[str, Any], paths: Any, output: Path, storage: str, name: str, searcher: Any,
             num_samples: int, proxy_epochs: int, resume: bool, device: str, asha: bool, trial_fn: TrialFn | None = None) -> Any:
    """Run (or resume) one Tune experiment of detector trials; returns its ResultGrid.

    `trial_fn` is the function trainable (default `nars.trainable.run_trial`); another one takes the same
    keyword arguments (e.g. a wrapper that injects faults, or a cheap stand-in objective).
    """
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search import ConcurrencyLimiter

    if trial_fn is None:
        from nars.trainable import run_trial as trial_fn

    s = experiment.search
    trainable = tune.with_resources(
        tune.with_parameters(
            trial_fn, space_spec=space_spec, paths=paths, proxy_epochs=proxy_epochs, constraints=experiment.constraints,
            cost_cache=str(output / "costs.json"), threads=max(1, int(s.cpus_per_trial)), latency_threads=s.latency_threads, device=device,
            work_dir=str(output / "trials"),
        ),
        {"cpu": s.cpus_per_trial, "gpu": s.gpus_per_trial},
    )
    path = f"{storage.rstrip('/')}/{name}"
    if resume and tune.Tuner.can_restore(path):
        print(f"resuming {path}: finished trials are kept, unfinished ones continue from their checkpoints")
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
                name=name, storage_path=storage, verbose=0, callbacks=[trial_logger(num_samples, s.metric)],
                failure_config=tune.FailureConfig(max_failures=s.max_failures),
                checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
            ),
        )
    return tuner.fit()


# ---------------------------------------------------------------------- tables


def collect(results: Any, proxy_epochs: int, metric: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per trial (flattened params, metrics, costs, status, error, time) and the long curves table."""
    rows, curves = [], []
    for result in results:
        metrics = result.metrics or {}
        trial_id = metrics.get("trial_id") or Path(result.path).name
        rows.append(trial_row(trial_id, result.config or {}, metrics, result.error, proxy_epochs))
        if result.metrics_dataframe is not None:
            curves.append(curve_part(trial_id, result.metrics_dataframe))
    return trial_table(rows, metric), curve_table(curves)


def write_table(frame: pd.DataFrame, path: Path) -> None:
    atomic_write_text(path, frame.to_csv(index=False))


def points_of(trials: pd.DataFrame) -> list[dict[str, Any]]:
    params = [c for c in trials.columns if c.startswith("param.")]
    points = []
    for _, row in trials[params].iterrows():
        points.append({c.removeprefix("param."): _plain(v) for c, v in row.items() if not _missing(v)})
    return points


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


# ---------------------------------------------------------------------- final stage


@dataclass
class Winner:
    point: dict[str, Any]
    predicted: float
    measured: float | None
    front: list[dict[str, Any]]
    front_predicted: list[float]
    front_costs: dict[str, list[float]]
    scored_per_minute: float
    pretraining: str


def final_stage(experiment: Experiment, space: Any, trials: pd.DataFrame, costs: Costs, output: Path, proxy_epochs: int) -> Winner:
    """Refit the predictor on every trial of the whole proxy budget, evolve under the constraints, write the recipes."""
    s = experiment.search
    good = trials[trials["status"].isin(LABELLED) & trials[s.metric].notna()]
    if len(good) < 2:
        raise UserError(f"only {len(good)} trial(s) trained the whole proxy budget with a {s.metric}: too few to fit the predictor "
                        "(see the status and error columns of trials.csv)")
    points = points_of(good)
    X = space.encode(points)
    y = good[s.metric].to_numpy(dtype=np.float64)
    predictor = make_predictor(s.predictor.kind, **s.predictor.options)
    pretrained = "off"
    if s.predictor.kind == "mlp" and s.predictor.pretrain_points:
        pretraining = FreeStatPretraining(space, costs.free_stats, points=s.predictor.pretrain_points, seed=s.seed + 7919,
                                          alpha=s.predictor.pretrain_alpha)
        decision = pretraining.apply(predictor, points, y)
        evidence = ", ".join(f"{name} tau {tau:.2f} p {p:.2g}" for name, tau, p in zip(costs.free_stat_names, decision.taus, decision.p_values))
        used = " + ".join(costs.free_stat_names[i] for i in decision.columns) or "none"
        pretrained = f"{used} ({evidence}; alpha {s.predictor.pretrain_alpha})"
    predictor.fit(X, y)
    if hasattr(predictor, "save"):
        predictor.save(output / "predictor.pt")
    result = evolve(
        space, predictor.predict, seeds=points[: s.evolution.population // 4],
        feasible=costs.feasible if costs.constraints else None,
        costs=costs.objectives(s.cost_objectives) if s.cost_objectives else None,
        settings=s.evolution, seed=s.seed,
    )
    measured = {point_key(p): v for p, v in zip(points, y, strict=True)}
    winner = Winner(result.best, result.best_predicted, measured.get(point_key(result.best)), result.front,
                    result.front_predicted, result.front_costs, result.scored_per_minute, pretrained)
    cost = costs.model.measure(winner.point)
    write_recipe(space, winner.point, output / "best_recipe.yaml", predicted=winner.predicted, measured=winner.measured, metric=s.metric,
                 proxy_epochs=proxy_epochs, extra={"flops": cost.flops, "params": cost.params})
    if s.cost_objectives:
        folder = output / "pareto_recipes"
        for i, (point, predicted) in enumerate(zip(result.front, result.front_predicted, strict=True)):
            costs_here = {name: values[i] for name, values in result.front_costs.items()}
            write_recipe(space, point, folder / f"recipe_{i:02d}.yaml", predicted=predicted,
                         measured=measured.get(point_key(point)), metric=s.metric, proxy_epochs=proxy_epochs, extra=costs_here)
        plot_front(result, s.metric, s.cost_objectives[0], folder / "pareto_front.png")
    return winner


def write_recipe(space: Any, point: dict[str, Any], path: Path, *, predicted: float, measured: float | None, metric: str,
                 proxy_epochs: int, extra: dict[str, float] | None = None) -> None:
    """The winner's complete detector config, with a header saying what the trials measured and what they did not."""
    config = config_to_dict(space.to_config(point))
    final = ", ".join(f"{field}: {value}" for field, value in final_run_values(space, point).items())
    header = [
        "# Found by `python -m nars.search`: a complete detector config for",
        "#   python -m detector.train --config <this file> --data <dataset> --output <dir>",
        f"# predicted {metric}: {predicted:.2f}"
        + (f"; measured on the proxy budget: {measured:.2f}" if measured is not None else "; this point was not trained during the search"),
        *textwrap.wrap(f"searched (varied across the trials, each trained {proxy_epochs} epochs): "
                       + (", ".join(f"{name}={point[name]}" for name in space.names if name in point) or "nothing"),
                       width=110, initial_indent="# ", subsequent_indent="#   "),
        f"# set for this final run, never measured in a trial: {final}; everything else is the space's base config",
    ]
    header += [f"# {name}: {value:.4g}" for name, value in (extra or {}).items()]
    atomic_write_text(path, "\n".join(header) + "\n" + yaml.safe_dump(config, sort_keys=False))


def plot_front(result: Any, metric: str, cost: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.plot(result.front_costs[cost], result.front_predicted, "o-", color="tab:red", label="predicted Pareto front")
    ax.set_xlabel(f"{cost} (lower is better)")
    ax.set_ylabel(f"predicted {metric} (%)")
    ax.set_title("Predicted Pareto front of the evolutionary search")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------------- calibration


def calibrate(experiment: Experiment, space: Any, space_spec: dict[str, Any], paths: Any, costs: Costs, storage: str,
              output: Path, resume: bool, device: str, trial_fn: TrialFn | None = None) -> tuple[int, pd.DataFrame]:
    """Train the same random candidates at every budget of the grid and at the full one, each as a trial
    trains (its own compressed schedule); returns the chosen proxy budget and the candidates' trials at it,
    which are trials of that budget like any other and become predictor labels."""
    import json

    from nars.baselines import RandomSearcher

    s, c = experiment.search, experiment.search.calibrate
    tables: dict[int, pd.DataFrame] = {}
    for epochs in [*c.budgets, c.full_epochs]:
        # the same seed draws the same candidates for every budget
        searcher = RandomSearcher(space, max_trials=c.candidates, feasible=costs.feasible if costs.constraints else None, seed=s.seed + 1)
        results = run_tune(experiment, space_spec, paths, output, storage, f"{CALIBRATION_NAME}_{epochs}", searcher, c.candidates, epochs,
                           resume, device, asha=False, trial_fn=trial_fn)
        trials, _ = collect(results, epochs, s.metric)
        tables[epochs] = trials[trials["status"].isin(LABELLED) & trials[s.metric].notna()]
    full = {point_key(p): v for p, v in zip(points_of(tables[c.full_epochs]), tables[c.full_epochs][s.metric], strict=True)}
    agreements = []
    for epochs in c.budgets:
        at_budget = {point_key(p): v for p, v in zip(points_of(tables[epochs]), tables[epochs][s.metric], strict=True)}
        both = sorted(at_budget.keys() & full.keys())
        if len(both) < 5:
            raise UserError(f"calibration: only {len(both)} candidates finished both {epochs} and {c.full_epochs} epochs; need 5")
        agreements.append(agreement(epochs, np.array([at_budget[k] for k in both]), np.array([full[k] for k in both]), seed=s.seed))
    chosen = choose_budget(agreements, c.full_epochs, c.threshold)
    atomic_write_text(output / "calibration.json", json.dumps({
        "rule": f"smallest budget whose {CONFIDENCE:.0%} bootstrap interval of Kendall tau with the {c.full_epochs}-epoch "
                f"ranking starts at >= {c.threshold}",
        "budgets": {a.epochs: a.as_dict() for a in agreements}, "threshold": c.threshold, "full_epochs": c.full_epochs,
        "proxy_epochs": chosen, "candidates": c.candidates}, indent=2))
    shown = ", ".join(f"{a.epochs} ep: tau {a.kendall_tau:.2f} [{a.interval[0]:.2f}, {a.interval[1]:.2f}]" for a in agreements)
    print(f"calibration: proxy budget {chosen} epochs ({shown}; rule: interval start >= {c.threshold})")
    return chosen, tables[chosen]


# ---------------------------------------------------------------------- CLI


def storage_location(storage: str | None, output: Path) -> str:
    """Ray's `storage_path`: a URI as given (Ray's pyarrow filesystems resolve s3://, gs://, file://), a local
    path made absolute (relative to the working directory), by default the run folder's ray/."""
    if storage is None:
        return str(output / "ray")
    return storage if "://" in storage else str(Path(storage).resolve())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m nars.search", description="Neural Architecture-Recipe Search on Ray Tune.")
    parser.add_argument("--config", required=True, help="experiment YAML (data, space, constraints, search)")
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE", help="override, e.g. search.num_samples=24")
    parser.add_argument("--output", help="run folder (default: the experiment's `output`, else runs/<config name>)")
    parser.add_argument("--resume", action="store_true", help="continue a killed search in the run folder")
    parser.add_argument("--address", help="Ray cluster address (auto or HOST:PORT); default: a local Ray")
    parser.add_argument("--storage", help="Ray storage: a local path or a URI Ray takes (s3://, gs://, file://...); "
                        "shared by every node of a cluster (default: RUN/ray)")
    parser.add_argument("--num-samples", type=int, help="trials to run (search.num_samples)")
    parser.add_argument("--searcher", choices=SEARCHERS, help="search.searcher")
    parser.add_argument("--cpus-per-trial", type=float, help="search.cpus_per_trial")
    parser.add_argument("--gpus-per-trial", type=float, help="search.gpus_per_trial")
    parser.add_argument("--calibrate", action="store_true", help="first choose the proxy budget by rank agreement")
    parser.add_argument("--device", default=None, help="cpu or cuda for trials (default: cuda when gpus-per-trial > 0)")
    return parser.parse_args(argv)


def _cli_overrides(args: argparse.Namespace) -> list[str]:
    overrides = list(args.set)
    for flag, key in (("num_samples", "search.num_samples"), ("searcher", "search.searcher"),
                      ("cpus_per_trial", "search.cpus_per_trial"), ("gpus_per_trial", "search.gpus_per_trial")):
        value = getattr(args, flag)
        if value is not None:
            overrides.append(f"{key}={value}")
    return overrides


@run_cli
def main(argv: list[str] | None = None, trial_fn: TrialFn | None = None) -> None:
    """The CLI; `trial_fn` replaces the detector trial (library use and tests; see `run_tune`)."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    experiment = load_experiment(args.config, _cli_overrides(args))
    output = Path(args.output or experiment.output or Path("runs") / Path(args.config).stem).resolve()
    if (output / "search_config.yaml").is_file() and not args.resume:
        raise ConfigError(f"{output} already holds a search; pass --resume to continue it or choose another --output")

    from search_spaces import load_space

    start = time.perf_counter()
    space_spec = proxy_space_spec(experiment.space)
    space = load_space(space_spec)
    warn_shadowed_base(space)
    costs = Costs(space, experiment.constraints, output / "costs.json", experiment.search.latency_threads)
    if costs.constraints:  # fail fast, naming the constraint, before anything is written
        space.sample_feasible(1, experiment.search.seed, experiment.constraints, cost_model=costs.model, max_tries=64)
    output.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(output)  # left by a write that a kill interrupted; the trials' folders clean their own
    atomic_write_text(output / "search_config.yaml", yaml.safe_dump(experiment.model_dump(mode="json"), sort_keys=False))
    storage = storage_location(args.storage, output)
    device = args.device or ("cuda" if experiment.search.gpus_per_trial > 0 else "cpu")
    paths = experiment.data_paths(output)
    init_ray(args.address)
    proxy_epochs, calibrated = experiment.search.proxy_epochs, None
    if args.calibrate:
        proxy_epochs, calibrated = calibrate(experiment, space, space_spec, paths, costs, storage, output, args.resume, device, trial_fn)
    s = experiment.search
    searcher = build_searcher(experiment, space, costs, s.num_samples)
    if calibrated is not None and isinstance(searcher, NARSSearcher):  # trials of the chosen budget: labels like any other
        searcher.add_labels(points_of(calibrated), calibrated[s.metric].tolist())
    results = run_tune(experiment, space_spec, paths, output, storage, RAY_NAME, searcher, s.num_samples, proxy_epochs, args.resume,
                       device, asha=True, trial_fn=trial_fn)
    trials, curves = collect(results, proxy_epochs, s.metric)
    write_table(trials, output / "trials.csv")
    with atomic_open(output / "trials.parquet", "wb") as handle:
        trials.to_parquet(handle, index=False)
    write_table(curves, output / "curves.csv")
    labelled = trials if calibrated is None else pd.concat([trials, calibrated], ignore_index=True)
    winner = final_stage(experiment, space, labelled, costs, output, proxy_epochs)
    print_summary(trials, winner, s.metric, output, time.perf_counter() - start)
    from nars.analysis.report import write_report

    report = write_report([output], output / "report")
    print(f"report: {report}")


def print_summary(trials: pd.DataFrame, winner: Winner, metric: str, output: Path, seconds: float) -> None:
    counts = trials["status"].value_counts().to_dict()
    shown = trials[["trial_id", "round", "status", metric, "flops", "params", "epochs", "wall_time_s"]].head(8).copy()
    shown["flops"] = shown["flops"].map(lambda v: f"{v / 1e9:.2f}G" if isinstance(v, (int, float)) and not math.isnan(v) else "-")
    shown["params"] = shown["params"].map(lambda v: f"{v / 1e6:.2f}M" if isinstance(v, (int, float)) and not math.isnan(v) else "-")
    print(f"\nsearch finished in {seconds / 60:.1f} min: {len(trials)} trials ({', '.join(f'{v} {k}' for k, v in counts.items())})")
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    measured = f", measured {winner.measured:.2f}" if winner.measured is not None else ""
    print(f"\nwinner (predictor-driven evolution, {winner.scored_per_minute:,.0f} candidates/min): "
          f"predicted {metric} {winner.predicted:.2f}{measured}")
    print(f"final predictor pretrained on: {winner.pretraining}")
    print(f"outputs in {output}: trials.csv, curves.csv, best_recipe.yaml, predictor.pt, search_config.yaml, report/")
    print(f"train the winner: python -m detector.train --config {output / 'best_recipe.yaml'} --data <dataset> --output <dir>")


if __name__ == "__main__":
    main()
