"""`release_free_heap` gives freed malloc memory back to the OS, which glibc alone does not."""

from __future__ import annotations

import ctypes
import os
import platform
import threading

import pytest

from detector.training.heap import release_free_heap

glibc_only = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
CHUNK = 32 * 1024  # below glibc's mmap threshold: the chunks live in an arena's heap, not in their own mappings
CHUNKS = 4096  # 128 MiB


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def free_all_but_last(libc: ctypes.CDLL) -> int:
    """Allocate and touch CHUNKS chunks, free all but the last one (which pins the heap's top); returns it."""
    pointers = [libc.malloc(CHUNK) for _ in range(CHUNKS)]
    assert all(pointers)
    for pointer in pointers:
        ctypes.memset(pointer, 1, CHUNK)
    for pointer in pointers[:-1]:
        libc.free(pointer)
    return pointers[-1]


@glibc_only
def test_freed_heap_memory_goes_back_to_the_os() -> None:
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    pinned: list[int] = []
    # in a new thread, as a Ray trial runs: its allocations land in a thread arena
    worker = threading.Thread(target=lambda: pinned.append(free_all_but_last(libc)))
    worker.start()
    worker.join()
    held = resident_bytes()
    assert release_free_heap()
    released = held - resident_bytes()
    libc.free(pinned[0])
    assert released > CHUNK * CHUNKS // 2, f"only {released / 2**20:.0f} MiB of {CHUNK * CHUNKS / 2**20:.0f} MiB freed came back"
