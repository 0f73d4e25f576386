"""Parameters from their YAML mappings (`{type: float, low: 1e-4, high: 0.1, log: true, when: {...}}`), with
one-line errors that name the parameter and the keys its type allows."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from core.errors import ConfigError
from search_spaces.params import Choice, Float, Int, Param

PARAM_TYPES: dict[str, type[Param]] = {"choice": Choice, "int": Int, "float": Float}
_KEYS = {"choice": {"values", "ordered"}, "int": {"low", "high", "step"}, "float": {"low", "high", "log"}}


def param_from_spec(name: str, spec: Any) -> Param:
    """Build a parameter from its YAML mapping, e.g. `{type: float, low: 1e-4, high: 0.1, log: true}`."""
    if not isinstance(spec, Mapping):
        raise ConfigError(f"parameter '{name}': expected a mapping with a 'type', got {spec!r}")
    kind = spec.get("type")
    if kind not in PARAM_TYPES:
        close = difflib.get_close_matches(str(kind), PARAM_TYPES, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ConfigError(f"parameter '{name}': unknown type {kind!r}{hint}; allowed: {', '.join(PARAM_TYPES)}")
    allowed = _KEYS[kind] | {"type", "when"}
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise ConfigError(f"parameter '{name}': unknown keys {unknown} for type {kind}; allowed: {sorted(allowed)}")
    if kind == "choice" and not isinstance(spec.get("values"), (list, tuple)):
        raise ConfigError(f"parameter '{name}': a choice needs 'values', a non-empty list, got {spec.get('values')!r}")
    if kind != "choice" and ("low" not in spec or "high" not in spec):
        raise ConfigError(f"parameter '{name}': type {kind} needs 'low' and 'high'")
    fields = {k: v for k, v in spec.items() if k != "type"}
    return PARAM_TYPES[kind](name, **fields)
