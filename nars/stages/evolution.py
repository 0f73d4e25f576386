"""Predictor-only evolutionary search: the final NARS stage that names the winning recipe.

No training happens here: a population evolves by mutation and crossover, children are scored in
large batches by the fitted accuracy predictor (hundreds of thousands per CPU-minute), and only
the best-predicted children are checked against the constraints, which may need a model build.
With cost objectives the survivors are chosen by predicted Pareto rank and the final answer is
the predicted Pareto front.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

from nars.config.settings import EvolutionSettings
from nars.searchers.pareto import non_dominated_rank, pareto_mask
from search_spaces.point import Point, point_key

if TYPE_CHECKING:
    from search_spaces.protocol import Space

log = logging.getLogger(__name__)


@dataclass
class EvolutionResult:
    best: Point
    best_predicted: float
    front: list[Point]
    front_predicted: list[float]
    front_costs: dict[str, list[float]]
    scored: int
    seconds: float
    history: list[float] = field(default_factory=list)  # best predicted value per generation

    @property
    def scored_per_minute(self) -> float:
        return self.scored / max(self.seconds, 1e-9) * 60.0


def evolve(
    space: Space,
    predict: Callable[[np.ndarray], np.ndarray],
    *,
    seeds: list[Point] | None = None,
    feasible: Callable[[list[Point]], np.ndarray] | None = None,
    costs: Callable[[list[Point]], dict[str, np.ndarray]] | None = None,
    settings: EvolutionSettings | None = None,
    seed: int = 0,
    progress: bool = True,
) -> EvolutionResult:
    """Evolve points of `space` towards high `predict(space.encode(points))` under `feasible`.

    `seeds` (e.g. the best measured trials) join the random initial population; `seed` drives every draw.
    """
    settings = settings or EvolutionSettings()
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    population = _feasible_unique((seeds or []) + space.sample(settings.population * 2, seed=seed, method="random"), feasible)
    if not population:
        raise ValueError("evolution: no feasible starting point (the constraints reject every sample)")
    population = population[: settings.population]
    scores = predict(space.encode(population))
    scored = len(population)
    history = []
    bar = tqdm(range(settings.generations), desc="evolution", disable=not progress, leave=False)
    for _ in bar:
        children = _children(space, population, scores, settings, rng)
        child_scores = predict(space.encode(children))
        scored += len(children)
        entry = -np.inf if costs is not None or len(population) < settings.population else float(scores.min())
        keep = _survivors(children, child_scores, settings.population, entry, feasible)
        population, scores = _select(population + [children[i] for i in keep], np.concatenate([scores, child_scores[keep]]), settings.population, costs)
        history.append(float(scores.max()))
        bar.set_postfix(best=f"{history[-1]:.3f}")
    seconds = time.perf_counter() - start
    return _result(population, scores, costs, scored, seconds, history)


def _feasible_unique(points: list[Point], feasible: Callable[[list[Point]], np.ndarray] | None) -> list[Point]:
    unique = list({point_key(p): p for p in points}.values())
    if feasible is None or not unique:
        return unique
    mask = np.asarray(feasible(unique), dtype=bool)
    return [p for p, ok in zip(unique, mask) if ok]


def _children(space: Space, population: list[Point], scores: np.ndarray, settings: EvolutionSettings, rng: np.random.Generator) -> list[Point]:
    """Tournament-selected parents (binary tournaments on predicted score), then crossover / mutation."""
    n = settings.children_per_generation
    pairs = rng.integers(len(population), size=(n, 2))
    winners = np.where(scores[pairs[:, 0]] >= scores[pairs[:, 1]], pairs[:, 0], pairs[:, 1])
    mates = rng.integers(len(population), size=n)
    cross = rng.random(n) < settings.crossover_prob
    mutations = rng.integers(1, settings.max_mutations + 1, size=n)
    children = []
    for i in range(n):
        parent = population[winners[i]]
        if cross[i]:
            parent = space.crossover(parent, population[mates[i]], rng, validate=False)
        children.append(space.mutate(parent, rng, n_params=int(mutations[i]), validate=False))
    return children


def _survivors(children: list[Point], scores: np.ndarray, limit: int, entry: float,
               feasible: Callable[[list[Point]], np.ndarray] | None, chunk: int = 16) -> np.ndarray:
    """Indices of up to `limit` distinct feasible children predicted above `entry`, best first.

    Only children that would enter the population are checked against the constraints, lazily in
    chunks: a constraint check may need a model build, a prediction is a row of a matrix product.
    """
    seen: set[str] = set()
    distinct = []
    for i in np.argsort(-scores):
        if scores[i] <= entry:
            break
        key = point_key(children[i])
        if key not in seen:
            seen.add(key)
            distinct.append(int(i))
    if feasible is None:
        return np.array(distinct[:limit], dtype=int)
    kept: list[int] = []
    while distinct and len(kept) < limit:
        block, distinct = distinct[:chunk], distinct[chunk:]
        mask = np.asarray(feasible([children[i] for i in block]), dtype=bool)
        kept.extend(i for i, ok in zip(block, mask) if ok)
    return np.array(kept[:limit], dtype=int)


def _select(points: list[Point], scores: np.ndarray, size: int, costs: Callable[[list[Point]], dict[str, np.ndarray]] | None) -> tuple[list[Point], np.ndarray]:
    unique: dict[str, int] = {}
    for i, p in enumerate(points):
        key = point_key(p)
        if key not in unique or scores[i] > scores[unique[key]]:
            unique[key] = i
    index = np.array(list(unique.values()), dtype=int)
    if costs is None:
        order = index[np.argsort(-scores[index])]
    else:
        cost_values = costs([points[i] for i in index])
        objectives = np.column_stack([scores[index], *[np.asarray(v, dtype=np.float64) for v in cost_values.values()]])
        rank = non_dominated_rank(objectives, [True] + [False] * len(cost_values))
        order = index[np.lexsort((-scores[index], rank))]
    order = order[:size]
    return [points[i] for i in order], scores[order]


def _result(population: list[Point], scores: np.ndarray, costs: Callable[[list[Point]], dict[str, np.ndarray]] | None, scored: int, seconds: float, history: list[float]) -> EvolutionResult:
    best = int(np.argmax(scores))
    if costs is None:
        front_index = np.array([best])
        front_costs: dict[str, list[float]] = {}
    else:
        cost_values = costs(population)
        objectives = np.column_stack([scores, *[np.asarray(v, dtype=np.float64) for v in cost_values.values()]])
        front_index = np.flatnonzero(pareto_mask(objectives, [True] + [False] * len(cost_values)))
        front_index = front_index[np.argsort(-scores[front_index])]
        front_costs = {name: [float(v[i]) for i in front_index] for name, v in cost_values.items()}
    return EvolutionResult(
        best=population[best],
        best_predicted=float(scores[best]),
        front=[population[i] for i in front_index],
        front_predicted=[float(scores[i]) for i in front_index],
        front_costs=front_costs,
        scored=scored,
        seconds=seconds,
        history=history,
    )
