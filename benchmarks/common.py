"""Helpers every benchmark shares: timing, the machine description, and writing a section of BENCHMARKS.md.

Each benchmark owns one `## Title` section of BENCHMARKS.md and replaces only that one, so they can
be rerun independently; figures go to `benchmarks/figures/` beside the Markdown file they belong to.
"""

from __future__ import annotations

import datetime
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from core.machine import cpu_model
from nars.records.run_folder import SEARCH_CONFIG, TRIALS_CSV

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS_MD = REPO / "BENCHMARKS.md"
SHARED_NOTE = (
    "The machine was shared with other engineers' jobs while this ran: absolute timings are noisy; "
    "ratios were measured side by side in one run (interleaved) and medians over repeats are reported."
)


def timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """`fn(*args, **kwargs)` and its wall time in seconds."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def interleaved(fns: dict[str, Callable[[], Any]], repeats: int, warmup: int = 1) -> dict[str, list[float]]:
    """Wall times (s) of each callable over `repeats` rounds, one call of each per round.

    Interleaving (and rotating the order each round) exposes every candidate to the same
    background load, so ratios stay meaningful on a busy machine where absolute times drift.
    """
    names = list(fns)
    for _ in range(warmup):
        for name in names:
            fns[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names):] + names[: r % len(names)]:
            times[name].append(timed(fns[name])[1])
    return times


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def machine() -> str:
    """CPU, OS and Python, plus the 1-minute load average at the start (other jobs on the machine)."""
    load = f", load average {os.getloadavg()[0]:.1f} at start" if hasattr(os, "getloadavg") else ""
    return f"{platform.platform()}, {cpu_model()}, {os.cpu_count()} CPUs visible, Python {platform.python_version()}{load}"


def header(title: str, script: str, argv: Sequence[str], *details: str) -> list[str]:
    """Section title, the command that reproduces it, date, machine and any `details` as bullets."""
    command = " ".join(["OMP_WAIT_POLICY=PASSIVE python -m", f"benchmarks.{Path(script).stem}", *map(shlex.quote, argv)])
    bullets = [f"- Date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC", f"- Machine: {machine()}"]
    return [f"## {title}", "", f"Command: `{command.strip()}`", "", *bullets, *(f"- {d}" for d in details), ""]


def figure_path(markdown: Path, name: str) -> Path:
    """Where a figure of the Markdown file `markdown` goes (created): `benchmarks/figures/NAME` beside it."""
    folder = markdown.resolve().parent / "benchmarks" / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def figure_link(markdown: Path, figure: Path, alt: str) -> str:
    """Markdown image link to `figure`, relative to the Markdown file."""
    return f"![{alt}]({figure.resolve().relative_to(markdown.resolve().parent).as_posix()})"


def write_section(path: Path, title: str, section: str) -> None:
    """Replace the `## title` section of `path` (up to the next `## ` heading) or append it."""
    text = path.read_text() if path.is_file() else "# Benchmarks\n\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.DOTALL | re.MULTILINE)
    section = section.rstrip("\n") + "\n\n"
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section
    path.write_text(text.rstrip("\n") + "\n")


def publish(path: Path, title: str, lines: Sequence[str]) -> str:
    """Join `lines` into the section `title`, write it into `path` (only that section), print it and return it."""
    section = "\n".join(lines)
    write_section(path, title, section)
    print(section)
    return section


def run_search(config: Path, output: Path, overrides: Sequence[str], options: Sequence[str] = ()) -> None:
    """One `nars.search` run in its own process (its own Ray), unless `output` already holds a finished one.

    An interrupted search there (its config written, no `trials.csv` yet) is continued with `--resume`.
    """
    if (output / TRIALS_CSV).is_file():
        print(f"{output}: finished search found, reused")
        return
    resume = ["--resume"] if (output / SEARCH_CONFIG).is_file() else []
    command = [sys.executable, "-m", "nars.search", "--config", str(config), *options, *resume, "--output", str(output)]
    if overrides:
        command += ["--set", *overrides]
    print("+", " ".join(command), flush=True)
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    if subprocess.run(command, cwd=REPO, env=env, check=False).returncode != 0:
        sys.exit(f"error: the search into {output} failed (its message is above); nothing was compared")


def finish_figure(fig: Figure, ax: Axes, path: Path, *, xlabel: str, ylabel: str, title: str) -> Path:
    """Labels, grid and a legend where it hides the fewest points, then the PNG written atomically (`nars.analysis.plots.save`)."""
    from nars.analysis.plots import save

    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return save(fig, path)
