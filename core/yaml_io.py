"""Reading YAML files the user wrote: `yaml.safe_load` (never arbitrary objects) with one-line errors."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from core.errors import ConfigError


def read_yaml(path: str | os.PathLike[str], what: str = "file") -> Any:
    """`yaml.safe_load` of a file with one-line errors (missing file, syntax error with its line)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{what} file not found: {path}")
    try:
        return yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
