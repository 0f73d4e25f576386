"""`load_space`: the one entry point from YAML files, dicts or nothing to a `SearchSpace`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from core.errors import ConfigError
from core.yaml_io import read_yaml
from search_spaces.space import SearchSpace, plain_space


def load_space(source: str | os.PathLike[str] | Mapping[str, Any] | None = None) -> SearchSpace:
    """Build a space from a YAML path or a mapping; None gives the default FBNetV3 detection space.

    The mapping is a space section (`kind: fbnetv3` for the detector space, otherwise a plain space
    of typed parameters) or a whole experiment config holding one under `space:`.
    """
    data = read_yaml(source, "space") if isinstance(source, (str, os.PathLike)) else source
    if data is not None and not isinstance(data, Mapping):
        raise ConfigError(f"a space must be a mapping, got {type(data).__name__}")
    section = data.get("space") if data is not None and "space" in data else data
    if section is not None and not isinstance(section, Mapping):
        raise ConfigError(f"space: must be a mapping, got {type(section).__name__}")
    if section is None or section.get("kind") == "fbnetv3":
        from search_spaces.fbnetv3.space import FBNetV3Space  # torch and the detector only when needed

        return FBNetV3Space(section)
    if section.get("kind", "plain") != "plain":
        raise ConfigError(f"space.kind: must be 'plain' or 'fbnetv3', got {section['kind']!r}")
    return plain_space(section)
