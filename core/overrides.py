"""`--set key=value` overrides of the CLIs: dotted keys, values read as YAML."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
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


def origin_of(key: str, overrides: Sequence[str], source: str, spelled: Mapping[str, str] | None = None) -> str:
    """Where the value at dotted `key` came from, to start an error about it: the last `--set` that wrote it or a
    section above it, else `source` (the file); when `--set`s wrote inside the section `key` (whose own check
    failed), the file and those `--set`s. `spelled` maps an override to how the user gave it (`--num-samples 1`)."""
    parts = key.split(".") if key else []
    here, below = None, []
    for text in overrides:
        keys, _ = parse_override(text)
        if keys == parts[: len(keys)]:
            here = text
        elif keys[: len(parts)] == parts:
            below.append(text)
    named = (spelled or {}).get
    if here is not None:
        return named(here, f"--set {here}")
    if below:
        return f"{source} with " + ", ".join(named(text, f"--set {text}") for text in below)
    return source
