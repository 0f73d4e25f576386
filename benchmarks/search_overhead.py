"""Search machinery overhead: what the search costs besides training the trials.

    OMP_WAIT_POLICY=PASSIVE python -m benchmarks.search_overhead [--trials 40] [--repeats 2] [--address ADDR]
        [--fit-n 16 32 64 128 256 512] [--experiments experiments/quickstart_search.yaml experiments/raccoon_search.yaml]

1. Ray Tune overhead per trial, with and without `reuse_actors`: a no-op trainable (one `tune.report`) run `--trials` times on a
   local Ray and on a 2-node cluster (joined with `nars.tune.runner.init_ray`, as `--address` does): a
   local one started with `ray.cluster_utils.Cluster` (1 CPU per node), or `--address` of a running one.
   The two alternate for `--repeats` rounds; medians reported.
2. Predictor fit time vs number of finished trials, per predictor kind, on encoded points of the
   default FBNetV3 space (kinds interleaved per repeat).
3. Evolutionary search (`nars.stages.evolution.evolve`, default settings) on each experiment's space
   under its FLOPs constraint: candidates scored per CPU-minute (process time, all threads), and
   the cost of measuring one new architecture with `search_spaces.CostModel` in that space.

Writes the section "Search overhead" of BENCHMARKS.md and `benchmarks/figures/predictor_fit_time.png`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from benchmarks.common import BENCHMARKS_MD, REPO, SHARED_NOTE, figure_link, figure_path, header, interleaved, median, publish
from nars.config.settings import EvolutionSettings, PredictorSettings
from nars.predictor import make_predictor
from nars.stages.evolution import evolve
from nars.trial.costs import Costs, CostSettings
from nars.tune.runner import init_ray
from search_spaces import load_space

SECTION = "Search overhead"
KINDS = ("mlp", "random_forest", "gp")
EVOLUTION_GOAL = 100_000  # candidates scored per CPU-minute


# ---------------------------------------------------------------------- Ray Tune


def tune_seconds_per_trial(trials: int, reuse_actors: bool) -> float:
    """Wall seconds per trial of `trials` no-op trials on the Ray this process is connected to."""
    from ray import tune

    def noop(config: dict[str, Any]) -> None:
        """The cheapest trainable there is: one report, so every second of a trial is Tune's own. Defined here so
        that Ray ships it by value: workers need not import this script (imported as a module by the tests)."""
        tune.report({"score": float(config["x"])})

    with tempfile.TemporaryDirectory() as storage:
        tuner = tune.Tuner(
            noop,
            param_space={"x": tune.uniform(0, 1)},
            tune_config=tune.TuneConfig(num_samples=trials, metric="score", mode="max", reuse_actors=reuse_actors),
            run_config=tune.RunConfig(storage_path=storage, verbose=0),
        )
        start = time.perf_counter()
        results = tuner.fit()
        seconds = time.perf_counter() - start
    if results.num_errors or len(results) != trials:
        raise RuntimeError(f"no-op Tune run: {len(results)} results, {results.num_errors} errors")
    return seconds / trials


def tune_overhead(trials: int, repeats: int, address: str | None, cluster: bool) -> dict[tuple[str, bool], list[float]]:
    """Seconds per trial by (Ray, reuse_actors): local Ray vs (with `cluster`) a 2-node cluster, alternating `repeats` times.

    `reuse_actors=True` is what `nars.search` runs (one worker process runs trial after trial);
    Tune's default `False` starts a fresh worker process per trial.
    """
    import ray
    from ray.cluster_utils import Cluster

    local_name = "local Ray (in-process head)"
    cluster_name = f"cluster at {address}" if address else "local 2-node cluster (1 CPU each)"
    times: dict[tuple[str, bool], list[float]] = {}

    def measure(name: str) -> None:
        for reuse in (True, False):
            times.setdefault((name, reuse), []).append(tune_seconds_per_trial(trials, reuse))
        ray.shutdown()

    for _ in range(repeats):
        # address "local": a fresh instance, never another cluster that `ray.init()` would find on a shared machine
        ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
        measure(local_name)
        if not cluster:
            continue
        nodes = None
        if address is None:
            nodes = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
            nodes.add_node(num_cpus=1)
        init_ray(address or nodes.address)
        measure(cluster_name)
        if nodes is not None:
            nodes.shutdown()
    return times


# ---------------------------------------------------------------------- predictor fitting


def fit_times(ns: list[int], repeats: int, pretrain_points: int) -> tuple[dict[str, dict[int, float]], float]:
    """Median fit seconds per kind and trial count on default-space points (synthetic accuracy), and the MLP's pretraining time."""
    space = load_space()
    rng = np.random.default_rng(0)
    X = space.encode(space.sample(max(ns), seed=0, method="random"))
    y = X @ rng.normal(size=X.shape[1]) + 0.1 * rng.normal(size=len(X))
    pretrain_X = space.encode(space.sample(pretrain_points, seed=1, method="random"))
    mlp = make_predictor("mlp")
    start = time.perf_counter()
    mlp.pretrain(pretrain_X, pretrain_X[:, :2])  # the statistic's values do not change the cost
    pretrain_seconds = time.perf_counter() - start
    predictors = {"mlp": mlp, "random_forest": make_predictor("random_forest"), "gp": make_predictor("gp")}
    result: dict[str, dict[int, float]] = {kind: {} for kind in KINDS}
    for n in ns:
        calls: dict[str, Callable[[], Any]] = {kind: (lambda p=p, n=n: p.fit(X[:n], y[:n])) for kind, p in predictors.items()}
        for kind, seconds in interleaved(calls, repeats, warmup=0).items():
            result[kind][n] = median(seconds)
    return result, pretrain_seconds


# ---------------------------------------------------------------------- evolution and costing


def evolution_speed(experiment: Path, settings: EvolutionSettings, cost_points: int) -> dict[str, float]:
    """Scored candidates per CPU-minute of one evolution on the experiment's space, and per-architecture costing time."""
    spec = yaml.safe_load(experiment.read_text())
    space = load_space(spec["space"])
    constraints = spec.get("constraints", [])
    costing = Costs(space, CostSettings.of(constraints))
    points = space.sample(cost_points, seed=7, method="random")
    per_arch = []
    for point in points:
        start = time.perf_counter()
        costing.model.measure(point)
        per_arch.append(time.perf_counter() - start)
    costs = Costs(space, CostSettings.of(constraints))  # fresh caches: evolution pays for its own costing
    labelled = space.sample(32, seed=0, method="random")
    predictor = make_predictor("mlp").fit(space.encode(labelled), np.random.default_rng(0).random(len(labelled)))
    cpu = time.process_time()
    result = evolve(space, predictor.predict, feasible=costs.feasibility, settings=settings, progress=False)
    cpu = time.process_time() - cpu
    return {
        "scored": result.scored, "wall_s": result.seconds, "cpu_s": cpu, "per_cpu_minute": result.scored / cpu * 60,
        "per_wall_minute": result.scored_per_minute, "archs_costed": costs.model.measurements,
        "first_arch_ms": per_arch[0] * 1000, "arch_ms": median(per_arch[1:] or per_arch) * 1000,
        "distinct": costing.model.measurements, "constraints": ", ".join(constraints) or "none",
    }


# ---------------------------------------------------------------------- report


def plot(fits: dict[str, dict[int, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for kind, per_n in fits.items():
        ax.plot(list(per_n), list(per_n.values()), marker="o", label=kind)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ns = list(next(iter(fits.values())))
    ax.set_xticks(ns, [str(n) for n in ns])
    ax.set_xlabel("finished trials (labelled points)")
    ax.set_ylabel("fit time (s, median)")
    ax.set_title("Predictor fit time, default FBNetV3 space", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> str:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40, help="no-op Tune trials per run")
    parser.add_argument("--repeats", type=int, default=2, help="alternating local/cluster Tune runs; also predictor fit repeats")
    parser.add_argument("--address", help="a running Ray cluster to compare with (default: start a local 2-node one)")
    parser.add_argument("--no-cluster", action="store_true", help="local Ray only (no second, multi-node measurement)")
    parser.add_argument("--fit-n", type=int, nargs="+", default=[16, 32, 64, 128, 256, 512])
    parser.add_argument("--pretrain-points", type=int, default=PredictorSettings().pretrain_points, help="MLP pretraining set (nars' default)")
    parser.add_argument("--experiments", type=Path, nargs="+",
                        default=[REPO / "experiments" / "quickstart_search.yaml", REPO / "experiments" / "raccoon_search.yaml"])
    parser.add_argument("--generations", type=int, default=EvolutionSettings().generations)
    parser.add_argument("--population", type=int, default=EvolutionSettings().population)
    parser.add_argument("--children", type=int, default=EvolutionSettings().children_per_generation, help="children per generation")
    parser.add_argument("--cost-points", type=int, default=100, help="random architectures costed per experiment space")
    parser.add_argument("--output", type=Path, default=BENCHMARKS_MD)
    args = parser.parse_args(argv)
    logging.getLogger("ray").setLevel(logging.WARNING)

    tune_times = tune_overhead(args.trials, args.repeats, args.address, cluster=not args.no_cluster)
    fits, pretrain_seconds = fit_times(sorted(args.fit_n), args.repeats, args.pretrain_points)
    settings = EvolutionSettings(population=args.population, generations=args.generations, children_per_generation=args.children)
    evolution = {path.stem: evolution_speed(path, settings, args.cost_points) for path in args.experiments}
    figure = figure_path(args.output, "predictor_fit_time.png")
    plot(fits, figure)

    import ray

    lines = header(SECTION, "search_overhead.py", argv, f"ray {ray.__version__}; torch threads: the default (all CPUs)")
    lines += [SHARED_NOTE, "",
              f"### Ray Tune, no-op trainable ({args.trials} trials per run, {args.repeats} run(s) of each, 1 CPU per trial)", "",
              "| Ray | `reuse_actors` | seconds per trial (median) | trials per second | runs |", "|---|---|---|---|---|"]
    for (name, reuse), seconds in tune_times.items():
        lines.append(f"| {name} | {reuse}{' (as nars.search)' if reuse else ' (Tune default)'} | {median(seconds):.3f} | "
                     f"{1 / median(seconds):.1f} | " + ", ".join(f"{s:.3f}" for s in seconds) + " |")
    lines += ["", "Per trial this is Tune's own bookkeeping (scheduling, result, experiment-state snapshot) and, without "
              "`reuse_actors`, the start of a fresh worker process; a detector trial of minutes hardly notices either.", "",
              f"### Predictor fit time vs finished trials (median of {args.repeats}, default FBNetV3 space, "
              f"{load_space().encode(load_space().sample(1, seed=0)).shape[1]} features)", "",
              "| trials | " + " | ".join(KINDS) + " |", "|---|" + "---|" * len(KINDS)]
    for n in sorted(args.fit_n):
        lines.append(f"| {n} | " + " | ".join(f"{fits[k][n]:.2f} s" for k in KINDS) + " |")
    lines += ["", "`mlp` is the NARS predictor (5-member ensemble, fitted from a pretrained encoder); its pretraining on "
              f"{args.pretrain_points} unlabelled points took {pretrain_seconds:.1f} s "
              "(the searcher pretrains a fresh predictor every round).", "",
              figure_link(args.output, figure, "predictor fit time"), "",
              f"### Evolutionary search ({settings.generations} generations x {settings.children_per_generation} children, "
              f"population {settings.population}; MLP predictor)", "",
              "| experiment | constraints | scored | CPU s | wall s | scored per CPU-minute | archs costed | "
              "cost of a new arch (first / median) |", "|---|---|---|---|---|---|---|---|"]
    for name, e in evolution.items():
        lines.append(f"| {name} | {e['constraints']} | {e['scored']:,} | {e['cpu_s']:.1f} | {e['wall_s']:.1f} | "
                     f"{e['per_cpu_minute']:,.0f} | {e['archs_costed']} | {e['first_arch_ms']:.0f} ms / {e['arch_ms']:.1f} ms |")
    worst = min(e["per_cpu_minute"] for e in evolution.values())
    lines += ["", f"Goal (>= {EVOLUTION_GOAL:,} candidates scored per CPU-minute): **{'met' if worst >= EVOLUTION_GOAL else 'NOT met'}** "
              f"(slowest: {worst:,.0f}). CPU time is the process's, all threads. The cost of a new arch is "
              f"`CostModel.measure` (FLOPs + params) on {args.cost_points} random points of that space with fresh caches: the first one "
              "builds the memo of model parts, later ones reuse it.", ""]
    return publish(args.output, SECTION, lines)


if __name__ == "__main__":
    main()
