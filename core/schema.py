"""Typed settings the user writes: strict pydantic sections and their one-line validation errors.

Every YAML a user writes (a detector config, an experiment) is a tree of `Section`s: an unknown key is
an error with a "did you mean" hint (a typo must not silently keep a default), and values are checked
on assignment too. `format_validation_error` turns pydantic's report into one line per problem naming
the dotted key and echoing the wrong value.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError


class Section(BaseModel):
    """Strict section: unknown keys are errors, values are checked on assignment too."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _field_names(model_cls: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names of the section addressed by `loc` (for 'did you mean' suggestions)."""
    current: Any = model_cls
    for part in loc:
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            break
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            current = annotation
        else:
            break
    return list(getattr(current, "model_fields", {}))


def format_validation_error(exc: ValidationError, model_cls: type[BaseModel], origin: Callable[[str], str] | None = None) -> str:
    """Turn pydantic's multi-line report on `model_cls` into one line per problem naming the dotted key; `origin(key)`,
    when given, starts each problem with where its value came from (`core.overrides.origin_of`: a `--set` or the file)."""
    messages = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not isinstance(p, int) or err["type"] != "extra_forbidden")
        key = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            known = _field_names(model_cls, loc[:-1])
            close = difflib.get_close_matches(str(loc[-1]), known, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f"; known keys: {', '.join(known)}"
            messages.append(_from(origin, key, f"unknown key '{key}'{hint}"))
            continue
        msg = err["msg"].removeprefix("Value error, ")
        value = err.get("input")
        shown = repr(value)
        # echo the wrong value (not a whole section; not twice where our validator's message already names it)
        named = "got " in msg or (isinstance(value, str) and shown in msg)
        if err["type"] != "missing" and not isinstance(value, Mapping) and not named:
            msg = f"got {shown if len(shown) <= 60 else shown[:57] + '...'}; {msg[0].lower()}{msg[1:]}"
        messages.append(_from(origin, key, f"{key}: {msg}" if key else msg))
    return "; ".join(messages)


def _from(origin: Callable[[str], str] | None, key: str, message: str) -> str:
    return f"{origin(key)}: {message}" if origin else message
