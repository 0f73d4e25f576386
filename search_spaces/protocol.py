"""`Space`: what a searcher, the predictor's encoding and the evolution need of a search space.

`SearchSpace` (and `FBNetV3Space`, which adds detector configs) is the one implementation here; a typed
Protocol lets a searcher say what it uses of it, and lets a user bring another space with the same methods.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    import numpy as np

    from search_spaces.params import Param
    from search_spaces.point import Point


class Space(Protocol):
    """Typed parameters (`params`, each maybe conditional) and pinned values (`fixed`) with the operations on points."""

    params: Sequence[Param]
    fixed: Mapping[str, Any]

    def sample(self, n: int, seed: int = 0, method: Literal["sobol", "random"] = "sobol") -> list[Point]: ...

    def validate(self, point: Mapping[str, Any]) -> None: ...

    def encode(self, points: Sequence[Mapping[str, Any]]) -> np.ndarray: ...

    def decode(self, features: np.ndarray) -> list[Point]: ...

    def repair(self, values: Mapping[str, Any], rng: np.random.Generator) -> Point: ...

    def mutate(self, point: Mapping[str, Any], rng: np.random.Generator | int | None = None, n_params: int = 1,
               *, validate: bool = True) -> Point: ...

    def crossover(self, a: Mapping[str, Any], b: Mapping[str, Any], rng: np.random.Generator | int | None = None,
                  *, validate: bool = True) -> Point: ...
