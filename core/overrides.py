"""`--set key=value` overrides of the CLIs: dotted keys, values read as YAML."""

from __future__ import annotations

import copy
from typing import Any

import yaml

from core.errors import ConfigError
from core.nested import set_path


def parse_override(text: str) -> tuple[list[str], Any]:
    """Parse one `--set a.b.c=value` (value read as YAML: numbers, lists, null, booleans)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip() or any(not part for part in key.strip().split(".")):
        raise ConfigError(f"--set expects key=value with a dotted key (e.g. model.norm=GN), got '{text}'")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return key.strip().split("."), value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of `data` with every `key=value` override applied (nested keys created)."""
    result = copy.deepcopy(data)
    for text in overrides:
        keys, value = parse_override(text)
        try:
            set_path(result, keys, value)
        except TypeError as exc:
            raise ConfigError(f"--set {text}: {exc}") from None
    return result
