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
    parser.add_argument("--trained", metavar="PATH",
                        help="the winner's final training: a detector.train folder (its eval_test.json, eval_val.json or last "
                             "evaluated epoch) or an eval_<split>.json; printed beside the best trial (default: RUN_DIR/final if any)")
    parser.add_argument("--default", metavar="PATH", help="the default recipe's training, read like --trained, for comparison")
    return parser


@run_cli
def main(argv: Sequence[str] | None = None) -> Path:
    args = build_parser().parse_args(argv)
    from nars.analysis.how_good import headline  # pandas and matplotlib only now: `--help` answers at once
    from nars.analysis.report import write_report
    from nars.analysis.run import load_run

    if args.top_k < 1:
        raise UserError(f"--top-k must be >= 1, got {args.top_k}")
    compared = args.trained is not None or args.default is not None
    if compared and len(args.runs) > 1:
        raise UserError(f"--trained and --default belong to one run; got {len(args.runs)} RUN_DIRs")
    runs = [load_run(args.runs[0], args.trained, args.default)] if len(args.runs) == 1 else args.runs
    path = write_report(runs, Path(args.output) if args.output else Path(args.runs[0]) / "report", top_k=args.top_k)
    print(f"report: {path}")
    trained = len(args.runs) == 1 and (runs[0].trained is not None or runs[0].default is not None)
    if compared or trained:  # the trained recipes' figures answer "how good is it": print them, not only where they are
        print("\n".join(headline(runs[0])))
    return path


if __name__ == "__main__":
    main()
