"""`python -m nars.search --config experiments/X.yaml`: a NARS search on Ray Tune, end to end.

Trials train candidate detectors on the proxy budget (Ray Tune, local or `--address` cluster),
the searcher learns from them round by round, then a predictor-only evolutionary search names the
winning recipe. Outputs in the run folder: `trials.csv`/`trials.parquet` (one row per trial),
`curves.csv` (trial, epoch, metrics), `best_recipe.yaml` (a complete detector config for
`python -m detector.train --config`), `pareto_recipes/` (multi-objective), `predictor.pt`,
`search_config.yaml` (resolved experiment), `calibration.json` (with `--calibrate`), Ray's
experiment state under `ray/` for `--resume`, and `report/` (`nars.analysis`: report.md and plots).

This module is the command line and the order of the stages; each stage is its own module:
`nars.tune.runner` (Ray and the Tuner), `nars.stages.calibrate`, `nars.records.tables` (collecting the trials),
`nars.stages.final` (predictor, evolution, recipes), `nars.stages.summary` and `nars.analysis` (the report).
"""

from __future__ import annotations

import argparse
import atexit
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from core.atomic import atomic_write_text, remove_stale_temporaries
from core.cli import ArgumentParser
from core.errors import ConfigError, run_cli
from nars.config.experiment import load_experiment
from nars.records import run_folder
from nars.searchers.registry import SEARCHERS

if TYPE_CHECKING:
    from nars.trial.spec import TrialFn


def storage_location(storage: str | None, output: Path) -> str:
    """Ray's `storage_path`: a URI as given (Ray's pyarrow filesystems resolve s3://, gs://, file://), a local
    path made absolute (relative to the working directory), by default the run folder's ray/."""
    if storage is None:
        return str(output / run_folder.RAY)
    return storage if "://" in storage else str(Path(storage).resolve())


def keep_storage(output: Path, storage: str, resume: bool) -> None:
    """Record the Ray storage of a new search; on `--resume`, refuse another one.

    Ray 2.60 restarts a restored search's unfinished trials with the storage path they were created
    with, so after the run folder (or `--storage`) moves they fail at their first checkpoint. Saying so
    up front loses nothing; finding it out costs every unfinished trial.
    """
    record = output / run_folder.RAY_STORAGE
    if not resume or not record.is_file():
        atomic_write_text(record, storage)
        return
    started = record.read_text().strip()
    if started != storage:
        raise ConfigError(f"{output}: this search started with Ray storage {started}, now it would be {storage} (a moved run folder or "
                          f"another --storage); Ray restarts unfinished trials at the old location, so move the folder back or pass "
                          f"--storage {started}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = ArgumentParser(prog="python -m nars.search", description="Neural Architecture-Recipe Search on Ray Tune.")
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


FLAG_SETTINGS = {"num_samples": "search.num_samples", "searcher": "search.searcher", "cpus_per_trial": "search.cpus_per_trial",
                 "gpus_per_trial": "search.gpus_per_trial"}
"""Flags that are shortcuts for a setting: argparse dest -> the dotted key they set."""


def _flag_overrides(args: argparse.Namespace) -> dict[str, str]:
    """The override each shortcut flag given stands for -> the flag as the user wrote it (errors name the flag)."""
    return {f"{key}={getattr(args, flag)}": f"--{flag.replace('_', '-')} {getattr(args, flag)}"
            for flag, key in FLAG_SETTINGS.items() if getattr(args, flag) is not None}


def _cli_overrides(args: argparse.Namespace) -> list[str]:
    return list(args.set) + list(_flag_overrides(args))


@run_cli
def main(argv: list[str] | None = None, trial_fn: TrialFn | None = None) -> None:
    """The CLI; `trial_fn` replaces the detector trial (library use and tests; see `nars.tune.runner.run_tune`)."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    experiment = load_experiment(args.config, _cli_overrides(args), _flag_overrides(args))
    output = Path(args.output or experiment.output or Path("runs") / Path(args.config).stem).resolve()
    if (output / run_folder.SEARCH_CONFIG).is_file() and not args.resume:
        raise ConfigError(f"{output} already holds a search; pass --resume to continue it or choose another --output")

    # the search's machinery (torch, Ray, pandas) only now: `--help` and a config error answer at once
    import pandas as pd

    from nars.records.tables import collect, points_of, write_tables
    from nars.searchers.nars import NARSSearcher
    from nars.searchers.request import build_searcher, request_for
    from nars.stages.calibrate import calibrate
    from nars.stages.final import final_stage
    from nars.stages.summary import print_summary
    from nars.trial.costs import FEASIBLE_DRAWS, Costs, CostSettings
    from nars.trial.init import check_weights
    from nars.trial.proxy import proxy_space_spec, warn_saturated_values, warn_shadowed_base
    from nars.tune.runner import init_ray, keep_ray_logs, run_tune
    from search_spaces import load_space, sample_feasible

    start = time.perf_counter()
    space_spec = proxy_space_spec(experiment.space)
    space = load_space(space_spec)
    warn_shadowed_base(space)
    warn_saturated_values(space)
    check_weights(space)  # a checkpoint that does not fit fails here, once, not in every trial
    latency = experiment.search.latency
    costs = Costs(space, CostSettings.of(experiment.constraints, output / run_folder.COSTS, latency.threads, latency.backend))
    if costs.constraints:  # fail fast, naming the constraint, before anything is written
        sample_feasible(space, 1, experiment.search.seed, experiment.constraints, cost_model=costs.model, max_tries=FEASIBLE_DRAWS)
    output.mkdir(parents=True, exist_ok=True)
    storage = storage_location(args.storage, output)
    keep_storage(output, storage, args.resume)  # a refused resume has written nothing
    remove_stale_temporaries(output)  # left by a write that a kill interrupted; the trials' folders clean their own
    atomic_write_text(output / run_folder.SEARCH_CONFIG, yaml.safe_dump(experiment.model_dump(mode="json"), sort_keys=False))
    device = args.device or ("cuda" if experiment.search.gpus_per_trial > 0 else "cpu")
    paths = experiment.data_paths(output)
    atexit.register(keep_ray_logs, init_ray(args.address), output)
    proxy_epochs, calibrated = experiment.search.proxy_epochs, None
    if args.calibrate:
        proxy_epochs, calibrated = calibrate(experiment, space, space_spec, paths, costs, storage, output, args.resume, device, trial_fn)
    s = experiment.search
    searcher = build_searcher(request_for(s, space, costs, s.num_samples))
    if calibrated is not None and isinstance(searcher, NARSSearcher):  # trials of the chosen budget: labels like any other
        for point, value in zip(points_of(calibrated), calibrated[s.metric], strict=True):
            searcher.add_evaluated_point(point, float(value))
    results = run_tune(experiment, space_spec, paths, costs.settings, output, storage, run_folder.RAY_NAME, searcher, s.num_samples,
                       proxy_epochs, args.resume, device, asha=True, trial_fn=trial_fn)
    trials, curves = collect(results, proxy_epochs, s.metric)
    write_tables(trials, curves, output)
    labelled = trials if calibrated is None else pd.concat([trials, calibrated], ignore_index=True)
    winner = final_stage(experiment, space, labelled, costs, output, proxy_epochs)
    print_summary(trials, winner, s.metric, output, time.perf_counter() - start, experiment.data.train_flags(output))
    from nars.analysis.report import write_report

    report = write_report([output], output / run_folder.REPORT)
    print(f"report: {report}")


if __name__ == "__main__":
    main()
