"""Nested config dicts addressed by dotted keys (`model.rpn.nms_thresh`): get, set, merge, list.

Configs travel as plain dicts between YAML, `--set` overrides, search-space points and cost specs;
these are the only helpers that walk them.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any


def _parts(path: str | Sequence[str]) -> list[str]:
    return path.split(".") if isinstance(path, str) else list(path)


def get_path(data: Mapping[str, Any], path: str | Sequence[str]) -> Any:
    """The value at a dotted path (KeyError when a part is absent)."""
    for part in _parts(path):
        data = data[part]
    return data


def set_path(data: MutableMapping[str, Any], path: str | Sequence[str], value: Any) -> None:
    """Set the value at a dotted path, creating missing sections.

    TypeError when a part on the way holds a value rather than a section.
    """
    *parents, leaf = _parts(path)
    node = data
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, MutableMapping):
            raise TypeError(f"'{part}' is a value, not a section")
        node = child
    node[leaf] = value


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Recursive dict merge (override wins); hand-written: neither the stdlib nor our deps have one."""
    out = dict(base)
    for key, value in override.items():
        out[key] = merge(out[key], value) if isinstance(value, Mapping) and isinstance(out.get(key), Mapping) else value
    return out


def leaves(data: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Dotted paths of every non-mapping value, in order."""
    paths = []
    for key, value in data.items():
        path = f"{prefix}{key}"
        paths += leaves(value, f"{path}.") if isinstance(value, Mapping) else [path]
    return paths
