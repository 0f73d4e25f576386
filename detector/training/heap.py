"""Hand freed heap memory back to the operating system between epochs and between search trials.

glibc's malloc keeps what a process frees in per-thread arenas and returns it to the OS only from
the top of each heap. Detector training frees large, differently sized blocks every step (multi-scale
inputs, evaluation), and a Ray worker that runs trial after trial in new threads (`reuse_actors`)
spreads them over many arenas, so resident memory grows by gigabytes over a search (BENCHMARKS.md,
"Reliability", has the figures before and after). Neither
torch, Ray nor the standard library exposes `malloc_trim`, hence this ctypes call; on a C library
without it (macOS, musl) there is nothing to do.
"""

from __future__ import annotations

import ctypes
import functools
from typing import Any


@functools.cache
def _malloc_trim() -> Any | None:
    """glibc's `malloc_trim`, or None where the process's C library has none."""
    try:
        return getattr(ctypes.CDLL(None), "malloc_trim", None)
    except OSError:  # no handle on the running process (Windows)
        return None


def release_free_heap() -> bool:
    """Return the free pages of every malloc arena to the OS; False where the C library cannot."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
