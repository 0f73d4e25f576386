"""The registry of named detection archs, after timm's `register_model`: `@register_arch` on a function
that returns an arch spec registers it under the function's name, and `model.arch: <name>` builds it.

A spec is the mapping `parse_detection_spec` reads (`{trunk: [stages], rpn: [blocks], bbox: [blocks]}`).
The function is called on every lookup, so each caller gets its own copy. d2go's FBNetV3 archs register
themselves in `detector.modeling.backbones.fbnet_archs` (imported by the package); your own arch registers the same
way, from any module imported before the config names it::

    @register_arch
    def my_fbnet() -> ArchSpec:
        return {"trunk": [...], "rpn": [...], "bbox": [...]}
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

Stage = list[tuple[Any, ...]]
ArchSpec = dict[str, Any]
ArchFn = Callable[[], ArchSpec]

_ARCHS: dict[str, ArchFn] = {}


def register_arch(fn: ArchFn) -> ArchFn:
    """Register the arch `fn()` returns under `fn.__name__`; returns `fn` unchanged (use as a decorator)."""
    name = fn.__name__
    if name in _ARCHS:
        raise ValueError(f"arch '{name}' is registered twice ({_ARCHS[name].__module__} and {fn.__module__})")
    _ARCHS[name] = fn
    return fn


def list_archs() -> list[str]:
    """Names of the registered detection archs, sorted."""
    return sorted(_ARCHS)


def arch_spec(name: str) -> ArchSpec:
    """The spec registered under `name` (ValueError with the closest name when there is none)."""
    if name not in _ARCHS:
        known = list_archs()
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise ValueError(f"unknown arch '{name}'; {hint}registered: {', '.join(known)} (python -m detector.archs lists them with their sizes)")
    return _ARCHS[name]()
