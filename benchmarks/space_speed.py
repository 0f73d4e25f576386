"""Search space speed: sampling, encoding and decoding many points, and costing distinct architectures.

    OMP_WAIT_POLICY=PASSIVE python -m benchmarks.space_speed [--points 100000] [--archs 1000] [--threads 2]

Writes (or replaces) the section "Search space speed" of BENCHMARKS.md. When costing all `--archs`
would exceed `--cost-budget` seconds, it costs as many as fit and extrapolates, and says so.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import scipy
import torch

from benchmarks.common import BENCHMARKS_MD, SHARED_NOTE, header, timed, write_section
from search_spaces import CostModel, load_space

SECTION = "Search space speed"


def run(args: argparse.Namespace, argv: list[str]) -> str:
    torch.set_num_threads(args.threads)
    space, t_load = timed(load_space)
    points, t_sample = timed(space.sample, args.points, 0)
    features, t_encode = timed(space.encode, points)
    decoded, t_decode = timed(space.decode, features)
    assert len(decoded) == args.points
    _, t_random = timed(space.sample, args.points, 0, "random")

    cost_model = CostModel(space)
    candidates = space.sample(args.archs, seed=1)
    per_arch: list[float] = []
    flops: list[int] = []
    started = time.perf_counter()
    for point in candidates:
        cost, seconds = timed(cost_model.measure, point)
        per_arch.append(seconds)
        flops.append(cost.flops)
        if time.perf_counter() - started > args.cost_budget:
            break
    costed = len(per_arch)
    distinct = cost_model.measurements
    _, t_cached = timed(lambda: [cost_model.measure(p) for p in candidates[:costed]])

    latency_points = candidates[: args.latency_archs]
    latencies = [cost_model.measure(p, latency=True).latency_ms for p in latency_points]

    total = sum(per_arch)
    mean = total / costed
    note = f" (extrapolated from {costed} archs costed in {total:.0f} s)" if costed < args.archs else ""
    cost_line = (
        f"| cost {args.archs:,} distinct archs (FLOPs + params) | {mean * args.archs:.1f} s{note} | "
        f"{mean * 1000:.1f} ms per arch (median {statistics.median(per_arch) * 1000:.1f} ms); {distinct} models measured |"
    )
    lines = [
        *header(
            SECTION, "space_speed.py", argv,
            f"torch {torch.__version__} ({args.threads} threads), numpy {np.__version__}, scipy {scipy.__version__}",
            f"Space: default FBNetV3 space, {len(space)} searched parameters, {len(space.feature_names)} encoded features",
        ),
        SHARED_NOTE,
        "",
        "| step | time | notes |",
        "|---|---|---|",
        f"| build the default space | {t_load * 1000:.0f} ms | torch and the detector already imported |",
        f"| sample {args.points:,} points (Sobol) | {t_sample:.2f} s | plain dicts |",
        f"| sample {args.points:,} points (random) | {t_random:.2f} s | |",
        f"| encode {args.points:,} points | {t_encode:.2f} s | validates every value too; "
        f"array {features.shape[0]:,} x {features.shape[1]} |",
        f"| decode {args.points:,} rows | {t_decode:.2f} s | |",
        cost_line,
        f"| the same {costed} archs again (LRU cache) | {t_cached * 1000:.0f} ms | includes `to_config` of each point |",
        f"| CPU latency of {len(latencies)} archs, {cost_model.latency_threads} thread(s), median of {cost_model.latency_runs} runs | "
        f"{np.median(latencies):.0f} ms median (min {min(latencies):.0f}, max {max(latencies):.0f}) | "
        f"the deployed model (`{cost_model.latency_backend}` backend: what `detector.predict` runs), a random image at each "
        "point's min_size x max_size |",
        "",
        f"FLOPs of the costed archs: median {np.median(flops) / 1e9:.2f} G, range {min(flops) / 1e9:.2f}-{max(flops) / 1e9:.2f} G "
        "(the default space brackets FBNetV3 A..G, with 10-100 test RoIs). FLOPs and params are summed over the model's "
        "parts, each counted once on the meta device (shapes only) and memoized (`detector.modeling.flops`): a new arch "
        "pays only for the parts not seen before.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--archs", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2, help="torch threads while costing")
    parser.add_argument("--latency-archs", type=int, default=10)
    parser.add_argument("--cost-budget", type=float, default=900.0, help="seconds of costing before extrapolating")
    parser.add_argument("--output", type=Path, default=BENCHMARKS_MD)
    args = parser.parse_args(argv)
    section = run(args, argv)
    write_section(args.output, SECTION, section)
    print(section)
    return section


if __name__ == "__main__":
    main()
