"""`python -m nars.analysis RUN_DIR [RUN_DIR ...] [--output DIR]`: the report of one search or several compared."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from core.cli import ArgumentParser
from core.errors import UserError, run_cli


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="python -m nars.analysis",
        description="Write report.md and PNGs (AP vs FLOPs with the Pareto front, best-so-far, predictor quality, "
                    "parameter importance, learning curves, top-k parameter values) for search runs.",
    )
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR",
                        help="a run folder of `python -m nars.search` (finished or running) or its Ray --storage path; "
                             "several are overlaid in the best-so-far figure")
    parser.add_argument("--output", help="report folder (default: FIRST_RUN_DIR/report)")
    parser.add_argument("--top-k", type=int, default=5, help="how many best trials the tables and figures single out (default 5)")
    return parser


@run_cli
def main(argv: Sequence[str] | None = None) -> Path:
    args = build_parser().parse_args(argv)
    from nars.analysis.report import write_report  # pandas and matplotlib only now: `--help` answers at once

    if args.top_k < 1:
        raise UserError(f"--top-k must be >= 1, got {args.top_k}")
    path = write_report(args.runs, Path(args.output) if args.output else Path(args.runs[0]) / "report", top_k=args.top_k)
    print(f"report: {path}")
    return path


if __name__ == "__main__":
    main()
