"""Atomic file writes: a temporary file beside the target, fsync, `os.replace`, then fsync the folder.

A crash or `kill -9` at any moment leaves either the previous complete file or the new complete
file, never half of one; the folder's fsync makes the rename itself survive a power cut. A writer
killed mid-write leaves its temporary file (`.<name>.<random>.tmp`): `remove_stale_temporaries`
clears them when a run starts or resumes in that folder. Every result, checkpoint, config and state
file goes through here.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

TEMPORARY_SUFFIX = ".tmp"


def _default_mode() -> int:
    """0o666 minus the process umask: what a plain `open(path, "w")` would give (mkstemp gives 0o600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _fsync_directory(directory: Path) -> None:
    """Persist a rename inside `directory` (POSIX; Windows cannot open a folder and needs no such step)."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_stale_temporaries(directory: str | os.PathLike[str]) -> list[Path]:
    """Delete the temporary files that killed `atomic_open` writers left in `directory`; returns them.

    Call it only where no other writer is active in the folder (the start or resume of a run).
    """
    stale = sorted(Path(directory).glob(f".*.*{TEMPORARY_SUFFIX}"))
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


@contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w", suffix: str = TEMPORARY_SUFFIX) -> Iterator[IO[Any]]:
    """Open a temporary file for writing; on success it replaces `path`, on error it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    try:
        os.fchmod(fd, _default_mode())
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        _fsync_directory(path.parent)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    with atomic_open(path, "w") as handle:
        handle.write(text)
