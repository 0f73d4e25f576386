"""Typed parameters of a search space: `Choice`, `Int`, `Float`, each optionally conditional.

A parameter works on *codes*, float arrays that make every operation vectorised: a `Choice` code
is the index of its value, an `Int`/`Float` code is the value itself; NaN marks a missing or invalid
value. Each parameter maps the unit interval onto its values (for Sobol/random sampling), encodes
codes into predictor features in [0, 1] (one-hot for unordered choices, min-max for the rest, in
log space for log floats) and decodes them back. `when` makes a parameter active only while other
parameters hold given values (an SE gate only matters when SE is on).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

import numpy as np

from core.errors import ConfigError

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "<missing>"})()
"""Placeholder for a parameter absent from a point (None can be a legitimate choice value)."""

MUTATION_SCALE = 0.25
"""Standard deviation of a numeric mutation, as a fraction of the parameter's encoded [0, 1] range."""

Condition = tuple[tuple[str, tuple[Any, ...]], ...]


def _reflect(x: np.ndarray | float) -> np.ndarray:
    """Fold any real number back into [0, 1] by reflection at the edges (keeps mutation steps unbiased)."""
    return 1.0 - np.abs(1.0 - np.abs(np.asarray(x, dtype=float)) % 2.0)


def _as_numbers(column: Sequence[Any]) -> np.ndarray:
    """Numeric codes of raw values: NaN for MISSING, None, bools, strings and anything non-numeric."""
    if set(map(type, column)) <= {int, float}:  # the common case, converted at C speed
        return np.asarray(column, dtype=float)
    out = np.full(len(column), np.nan)
    for i, value in enumerate(column):
        if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
            out[i] = value
    return out


@dataclass(frozen=True)
class Param(ABC):
    """A named parameter; `when` = ((parent, allowed values), ...): active only if every parent holds one."""

    name: str
    when: Condition | Mapping[str, Any] = field(default=(), kw_only=True)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"parameter names must be non-empty strings, got {self.name!r}")
        object.__setattr__(self, "when", self._condition(self.when))

    def _condition(self, raw: Any) -> Condition:
        """`{parent: value}` or `{parent: [values]}` (YAML) or pairs -> ((parent, (values...)), ...)."""
        if isinstance(raw, Mapping):
            raw = raw.items()
        try:
            return tuple((str(p), tuple(v) if isinstance(v, (list, tuple)) else (v,)) for p, v in raw)
        except (TypeError, ValueError):
            raise self.error(f"'when' must map parameter names to a value or a list of values, got {raw!r}") from None

    def error(self, message: str) -> ConfigError:
        return ConfigError(f"parameter '{self.name}': {message}")

    @property
    @abstractmethod
    def size(self) -> int | None:
        """Number of distinct values, None for a continuous range."""

    @property
    @abstractmethod
    def feature_names(self) -> list[str]:
        """Names of the encoded columns."""

    @abstractmethod
    def describe(self) -> str:
        """The allowed values in words, for error messages."""

    @abstractmethod
    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """Codes of points of the unit interval (uniform in, uniform over the values out)."""

    @abstractmethod
    def codes_of(self, column: Sequence[Any]) -> np.ndarray:
        """Codes of raw values; NaN where a value is missing or not allowed."""

    @abstractmethod
    def values_of(self, codes: np.ndarray) -> list[Any]:
        """Plain Python values (JSON/YAML-friendly) of valid codes."""

    @abstractmethod
    def encode(self, codes: np.ndarray) -> np.ndarray:
        """Features `[n, len(feature_names)]` in [0, 1] of valid codes."""

    @abstractmethod
    def decode(self, features: np.ndarray) -> np.ndarray:
        """Nearest valid codes of (possibly perturbed) features."""

    @property
    @abstractmethod
    def neutral(self) -> np.ndarray:
        """Features of an inactive parameter: the mean encoding under uniform sampling, so it says nothing."""

    def mutate(self, value: Any, rng: np.random.Generator) -> Any:
        """A different allowed value: another choice, or a Gaussian step for numbers."""
        if self.size == 1:
            raise self.error("holds a single value; there is nothing to mutate")
        return self._mutate(value, rng)

    @abstractmethod
    def _mutate(self, value: Any, rng: np.random.Generator) -> Any: ...

    def value_of_unit(self, u: float) -> Any:
        return self.values_of(self.from_unit(np.array([u])))[0]


@dataclass(frozen=True)
class Choice(Param):
    """Categorical parameter; `ordered` encodes the index in one column instead of one-hot."""

    values: tuple[Any, ...] = ()
    ordered: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        values = tuple(self.values)
        if not values:
            raise self.error("'values' must be a non-empty list")
        for value in values:
            if not (value is None or isinstance(value, (str, bool, int, float))):
                raise self.error(f"choice values must be strings, numbers, booleans or null, got {value!r}")
        if len(set(values)) != len(values):  # also catches 0 / False / 0.0, which a dict cannot tell apart
            raise self.error(f"choice values must be distinct, got {list(values)}")
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "_index", {v: float(i) for i, v in enumerate(values)})

    @property
    def size(self) -> int:
        return len(self.values)

    @property
    def feature_names(self) -> list[str]:
        return [self.name] if self.ordered else [f"{self.name}={v}" for v in self.values]

    def describe(self) -> str:
        return f"one of {list(self.values)}"

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        return np.minimum(np.floor(u * self.size), self.size - 1)

    def codes_of(self, column: Sequence[Any]) -> np.ndarray:
        index: dict[Any, float] = self._index  # type: ignore[attr-defined]
        try:
            return np.fromiter(map(index.get, column, repeat(np.nan)), dtype=float, count=len(column))
        except TypeError:  # an unhashable value (a list, a dict) is not one of the values
            return np.array([index.get(v, np.nan) if isinstance(v, Hashable) else np.nan for v in column])

    def values_of(self, codes: np.ndarray) -> list[Any]:
        return [self.values[i] for i in codes.astype(np.int64).tolist()]

    def encode(self, codes: np.ndarray) -> np.ndarray:
        if self.ordered:
            return (codes / max(self.size - 1, 1))[:, None]
        return np.eye(self.size)[codes.astype(np.int64)]

    def decode(self, features: np.ndarray) -> np.ndarray:
        if self.ordered:
            return np.clip(np.rint(features[:, 0] * (self.size - 1)), 0, self.size - 1)
        return np.argmax(features, axis=1).astype(float)

    @property
    def neutral(self) -> np.ndarray:
        return np.array([0.5]) if self.ordered else np.full(self.size, 1.0 / self.size)

    def _mutate(self, value: Any, rng: np.random.Generator) -> Any:
        current = int(self._index[value])  # type: ignore[attr-defined]
        others = [i for i in range(self.size) if i != current]
        return self.values[others[rng.integers(len(others))]]


@dataclass(frozen=True)
class _Numeric(Param):
    """Shared min-max encoding and Gaussian mutation of `Int` and `Float`."""

    low: float = 0.0
    high: float = 1.0

    def _to_unit(self, codes: np.ndarray) -> np.ndarray:
        span = self.high - self.low
        return (codes - self.low) / span if span else np.zeros_like(codes)

    @property
    def feature_names(self) -> list[str]:
        return [self.name]

    def encode(self, codes: np.ndarray) -> np.ndarray:
        return self._to_unit(codes)[:, None]

    @property
    def neutral(self) -> np.ndarray:
        return np.array([0.5])

    def _gaussian_step(self, value: Any, rng: np.random.Generator) -> tuple[Any, float]:
        """The value one Gaussian step away on the encoded scale, and the step taken."""
        start = float(self.encode(np.array([float(value)]))[0, 0])
        step = float(rng.normal(0.0, MUTATION_SCALE))
        return self.values_of(self.decode(_reflect(start + step)[None, None]))[0], step


@dataclass(frozen=True)
class Int(_Numeric):
    """Integer in [low, high] on the grid low, low + step, ..., high."""

    step: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        for key in ("low", "high", "step"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not float(value).is_integer():
                raise self.error(f"'{key}' must be an integer, got {value!r}")
            object.__setattr__(self, key, int(value))
        if self.low > self.high:
            raise self.error(f"low ({self.low}) must be <= high ({self.high})")
        if self.step < 1:
            raise self.error(f"step must be >= 1, got {self.step}")
        if (self.high - self.low) % self.step:
            raise self.error(f"high - low ({self.high} - {self.low}) must be a multiple of step ({self.step})")

    @property
    def size(self) -> int:
        return (self.high - self.low) // self.step + 1

    def describe(self) -> str:
        grid = f" in steps of {self.step}" if self.step != 1 else ""
        return f"an integer in [{self.low}, {self.high}]{grid}"

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        return self.low + np.minimum(np.floor(u * self.size), self.size - 1) * self.step

    def codes_of(self, column: Sequence[Any]) -> np.ndarray:
        codes = _as_numbers(column)
        with np.errstate(invalid="ignore"):
            ok = (codes >= self.low) & (codes <= self.high) & ((codes - self.low) % self.step == 0)
        return np.where(ok, codes, np.nan)

    def values_of(self, codes: np.ndarray) -> list[Any]:
        return codes.astype(np.int64).tolist()

    def decode(self, features: np.ndarray) -> np.ndarray:
        index = np.clip(np.rint(features[:, 0] * (self.size - 1)), 0, self.size - 1)
        return self.low + index * self.step

    def _mutate(self, value: Any, rng: np.random.Generator) -> Any:
        new, step = self._gaussian_step(value, rng)
        if new != value:
            return new
        # the step stayed inside the current grid cell: move to the neighbour on the step's side
        direction = self.step if step >= 0 else -self.step
        return int(value) + direction if self.low <= int(value) + direction <= self.high else int(value) - direction


@dataclass(frozen=True)
class Float(_Numeric):
    """Real number in [low, high]; `log` samples and encodes on the log scale (learning rates)."""

    log: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        for key in ("low", "high"):
            value = getattr(self, key)
            try:
                number = float(value)  # YAML reads `1e-4` (no dot) as a string
            except (TypeError, ValueError):
                raise self.error(f"'{key}' must be a number, got {value!r}") from None
            if isinstance(value, bool) or not math.isfinite(number):
                raise self.error(f"'{key}' must be a finite number, got {value!r}")
            object.__setattr__(self, key, number)
        if self.low > self.high:
            raise self.error(f"low ({self.low:g}) must be <= high ({self.high:g})")
        if self.log and self.low <= 0:
            raise self.error(f"a log-scale range needs low > 0, got low = {self.low:g}")

    @property
    def size(self) -> int | None:
        return 1 if self.low == self.high else None

    def describe(self) -> str:
        return f"a number in [{self.low:g}, {self.high:g}]" + (" (log scale)" if self.log else "")

    def _to_unit(self, codes: np.ndarray) -> np.ndarray:
        if not self.log:
            return super()._to_unit(codes)
        span = math.log(self.high) - math.log(self.low)
        return (np.log(codes) - math.log(self.low)) / span if span else np.zeros_like(codes)

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        if self.log:
            values = np.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        else:
            values = self.low + u * (self.high - self.low)
        return np.clip(values, self.low, self.high)  # exp/log round-off must not step outside the range

    def codes_of(self, column: Sequence[Any]) -> np.ndarray:
        codes = _as_numbers(column)
        with np.errstate(invalid="ignore"):
            return np.where((codes >= self.low) & (codes <= self.high), codes, np.nan)

    def values_of(self, codes: np.ndarray) -> list[Any]:
        return codes.astype(float).tolist()

    def decode(self, features: np.ndarray) -> np.ndarray:
        return self.from_unit(np.clip(features[:, 0], 0.0, 1.0))

    def _mutate(self, value: Any, rng: np.random.Generator) -> Any:
        new = value
        while new == value:  # equal only when a step rounds to nothing
            new, _ = self._gaussian_step(value, rng)
        return new
