"""Reading checkpoint files (`weights_only=True`: tensors, never a pickle that runs) and downloading registered
ones into the torch hub cache, atomically and checksummed, with one line naming the URL when offline."""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import torch

from core.atomic import atomic_open
from core.errors import CheckpointError


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """`torch.load(weights_only=True)` with one-line errors for missing, truncated or unsafe files."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        unsafe = re.search(r"unsupported GLOBAL (\S+)", str(exc))
        if unsafe:
            raise CheckpointError(
                f"{path}: refused to load: it would import {unsafe.group(1)} (weights_only=True allows tensors and plain data only)"
            ) from None
        raise CheckpointError(f"{path}: not a readable checkpoint (truncated, corrupt or not a torch file)") from None
    except Exception:  # torch raises RuntimeError, EOFError, KeyError, zip errors ... for bad bytes
        raise CheckpointError(f"{path}: not a readable checkpoint (truncated, corrupt or not a torch file)") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: expected a dict checkpoint, got {type(data).__name__}")
    return data


def cached_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """`read_checkpoint` once per process and file version (resolved path, mtime, size).

    Every search trial that a Ray worker runs fine-tunes from the same file; reading it once per
    worker instead of once per trial saves the load (seconds for a COCO checkpoint). A rewritten
    file has a new mtime or size and is read again. Callers must not modify the returned tensors.
    """
    path = Path(path).resolve()
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    stat = path.stat()
    return _read_once(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=2)
def _read_once(path: Path, mtime_ns: int, size: int) -> dict[str, Any]:
    """The cache of `cached_checkpoint`; mtime and size are part of the key only."""
    return read_checkpoint(path)


def _cache_dir() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / "fbnetv3od"


def cache_path(url: str) -> Path:
    """Where `download` keeps the file of `url` (present once downloaded: then no network is needed)."""
    parts = url.rstrip("/").split("/")
    return _cache_dir() / parts[-2] / parts[-1]


def download(url: str, sha256: str | None = None, timeout: float = 30.0) -> Path:
    """Fetch `url` into the torch hub cache, atomically (`core.atomic`: an interrupted download leaves no
    file at the target), verifying SHA-256 when one is known.

    Hand-written instead of `torch.hub.download_url_to_file` because that one has no timeout
    (offline machines would hang) and checks only a hash prefix.
    """
    target = cache_path(url)
    if target.is_file():
        return target
    digest = hashlib.sha256()
    try:
        with atomic_open(target, "wb", suffix=".part") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            while chunk := response.read(1 << 20):
                out.write(chunk)
                digest.update(chunk)
            if sha256 and digest.hexdigest() != sha256:
                raise CheckpointError(f"download of {url} has SHA-256 {digest.hexdigest()}, expected {sha256}; not used")
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise CheckpointError(
            f"could not download {url} ({reason}); download it on a machine with internet access and set "
            f"model.weights to the local file path"
        ) from None
    return target
