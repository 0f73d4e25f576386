"""Running a CLI as a user does (`python -m ...` in a subprocess) and reading its one-line error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from helpers.tiny import REPO


def run(*args: str, cwd: Path = REPO, timeout: int = 900) -> subprocess.CompletedProcess:
    """`python ARGS` in `cwd` (the repository), its output captured."""
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def one_line_error(result: subprocess.CompletedProcess) -> str:
    """The one `error:` line of a CLI that stopped with exit status 2 and no traceback."""
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]
