"""The final stage of a search: refit the predictor on every labelled trial, evolve under the constraints
with it, and write the winner (`best_recipe.yaml`) and, with cost objectives, the predicted Pareto front.

The evolution stays inside the values the trials measured (`nars.stages.measured_span`): beyond them the
predictor extrapolates, and the maximum of a predictor is where it extrapolates most.

The evolution's best point wins only where the predictor claims more for it than the best trial measured, by more
than the prediction's calibrated std: a measurement beats a guess that does not surely exceed it. With few trials the
predictor's best guesses are its least founded ones, and a user should then train the recipe the search saw work
(BENCHMARKS.md, "Detection search", has the searches that showed it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from core.atomic import atomic_open
from core.errors import UserError
from nars.config.experiment import Experiment
from nars.predictor import Predictor, make_predictor
from nars.predictor.calibration import Calibration, cross_validated
from nars.predictor.pretraining import FreeStatPretraining
from nars.records import run_folder
from nars.records.recipe import BEST_TRIAL, EVOLVED, write_default_recipe, write_recipe
from nars.records.tables import LABELLED, points_of
from nars.records.trained import default_folder
from nars.records.verdict import no_signal
from nars.stages.evolution import EvolutionResult, evolve
from nars.stages.measured_span import MeasuredSpan
from nars.trial.costs import Costs
from search_spaces.constraints import Cost
from search_spaces.point import Point, point_key

if TYPE_CHECKING:
    from search_spaces.fbnetv3.space import FBNetV3Space


@dataclass
class Winner:
    point: Point
    predicted: float
    measured: float | None
    passed_over: float | None  # the evolution's best prediction where a measured trial won instead
    front: list[Point]
    front_predicted: list[float]
    front_costs: dict[str, list[float]]
    scored_per_minute: float
    pretraining: str

    @property
    def choice(self) -> str:
        """Why this point won (the summary; the recipe header where a trial won)."""
        if self.passed_over is None:
            return EVOLVED
        return f"{BEST_TRIAL}: the evolution's best point was predicted {self.passed_over:.2f}, not surely above this trial's measurement"


def final_stage(experiment: Experiment, space: FBNetV3Space, trials: pd.DataFrame, costs: Costs, output: Path, proxy_epochs: int) -> Winner:
    """Refit the predictor on every trial of the whole proxy budget, evolve under the constraints, write the recipes."""
    s = experiment.search
    good = trials[trials["status"].isin(LABELLED) & trials[s.metric].notna()]
    if len(good) < 2:
        raise UserError(f"only {len(good)} trial(s) trained the whole proxy budget with a {s.metric}: too few to fit the predictor "
                        "(see the status and error columns of trials.csv)")
    points = points_of(good)
    y = good[s.metric].to_numpy(dtype=np.float64)
    predictor, pretrained = fit_predictor(experiment, space, costs, points, y)
    if hasattr(predictor, "save"):
        predictor.save(output / run_folder.PREDICTOR)
    feasible = within_span(MeasuredSpan(space, points), costs.feasibility)
    result = evolve(space, predictor.predict, seeds=points[: s.evolution.population // 4], feasible=feasible,
                    costs=costs.objectives(s.cost_objectives), settings=s.evolution, seed=s.seed)
    measured = {point_key(p): v for p, v in zip(points, y, strict=True)}
    margin = prediction_doubt(experiment, space, points, y, predictor, result.best)
    point, predicted, passed_over = pick_winner(result, space, points, y, predictor, margin)
    winner = Winner(point, predicted, measured.get(point_key(point)), passed_over, result.front, result.front_predicted,
                    result.front_costs, result.scored_per_minute, pretrained)
    timed = "latency_ms" in s.cost_objectives or any(c.metric == "latency_ms" for c in costs.constraints)
    extra = cost_header(costs.model.measure(winner.point, latency=timed), timed)
    data_flags = experiment.data.train_flags(output)
    write_recipe(space, winner.point, output / run_folder.BEST_RECIPE, predicted=winner.predicted, measured=winner.measured,
                 metric=s.metric, proxy_epochs=proxy_epochs, extra=extra, data_flags=data_flags,
                 note="; ".join(n for n in (no_signal(trials, s.metric), None if passed_over is None else winner.choice) if n) or None)
    write_default_recipe(space, output / run_folder.DEFAULT_RECIPE, output=default_folder(output), data_flags=data_flags,
                         extra=cost_header(costs.model.measure(space.default_config(), latency=timed), timed))
    if s.cost_objectives:
        write_front(result, space, measured, output / run_folder.PARETO_RECIPES, s.metric, proxy_epochs, s.cost_objectives[0], data_flags)
    return winner


def cost_header(cost: Cost, timed: bool) -> dict[str, float]:
    """A recipe header's cost lines: FLOPs and params, and the latency where the search timed its models."""
    return {"flops": cost.flops, "params": cost.params} | ({"latency_ms": cost.latency_ms} if timed else {})


def within_span(span: MeasuredSpan, feasibility: Callable[[list[Point]], np.ndarray] | None) -> Callable[[list[Point]], np.ndarray]:
    """Points inside `span` that also meet the constraints; the constraints (which may build models) see only those."""
    if feasibility is None:
        return span.contains

    def feasible(candidates: list[Point]) -> np.ndarray:
        mask = span.contains(candidates)
        if mask.any():
            mask[mask] = feasibility([p for p, inside in zip(candidates, mask, strict=True) if inside])
        return mask

    return feasible


def prediction_doubt(experiment: Experiment, space: FBNetV3Space, points: list[Point], y: np.ndarray, predictor: Predictor,
                     point: Point) -> float:
    """The calibrated std of the predictor's value at `point`: the ensemble's spread there, scaled on the trials'
    cross-validated residuals (`nars.predictor.calibration`; the folds are fitted without pretraining)."""
    raw = predictor.predict(space.encode([point]), return_std=True)[1]
    settings = experiment.search.predictor
    residuals, stds = cross_validated(lambda: make_predictor(settings.kind, **settings.options), space.encode(points), y,
                                      seed=experiment.search.seed)
    return float(Calibration.fit(residuals, stds, label_std=float(np.std(y))).std(raw)[0])


def pick_winner(result: EvolutionResult, space: FBNetV3Space, points: list[Point], y: np.ndarray,
                predictor: Predictor, margin: float = 0.0) -> tuple[Point, float, float | None]:
    """The evolution's best point if its prediction exceeds every measured value by more than `margin` (its calibrated
    std: the maximum of thousands of predictions is biased upward, so a point must be predicted above the best
    measurement with confidence, not by a hair), else the best measured trial.

    Returns the winner, the predictor's value for it, and the evolution's best prediction where that was passed over.
    """
    best = int(np.argmax(y))
    if result.best_predicted - margin > y[best]:
        return result.best, result.best_predicted, None
    predicted = float(predictor.predict(space.encode([points[best]]))[0])
    return points[best], predicted, result.best_predicted


def fit_predictor(experiment: Experiment, space: FBNetV3Space, costs: Costs, points: list[Point], y: np.ndarray) -> tuple[Predictor, str]:
    """The search's predictor fitted on `points`, pretrained as the searcher's rounds are; and what it was pretrained on."""
    s = experiment.search
    predictor = make_predictor(s.predictor.kind, **s.predictor.options)
    pretrained = "off"
    pretraining = FreeStatPretraining.for_search(space, costs.free_stats, s.predictor, s.seed)
    if pretraining is not None:
        decision = pretraining.apply(predictor, points, y)
        evidence = ", ".join(f"{name} tau {tau:.2f} p {p:.2g}" for name, tau, p in zip(costs.free_stat_names, decision.taus, decision.p_values))
        used = " + ".join(costs.free_stat_names[i] for i in decision.columns) or "none"
        pretrained = f"{used} ({evidence}; alpha {s.predictor.pretrain_alpha})"
    predictor.fit(space.encode(points), y)
    return predictor, pretrained


def write_front(result: EvolutionResult, space: FBNetV3Space, measured: dict[str, float], folder: Path, metric: str, proxy_epochs: int,
                cost: str, data_flags: str) -> None:
    """One recipe per point of the predicted Pareto front, and its figure."""
    for i, (point, predicted) in enumerate(zip(result.front, result.front_predicted, strict=True)):
        costs_here = {name: values[i] for name, values in result.front_costs.items()}
        write_recipe(space, point, folder / f"recipe_{i:02d}.yaml", predicted=predicted, measured=measured.get(point_key(point)),
                     metric=metric, proxy_epochs=proxy_epochs, extra=costs_here, data_flags=data_flags)
    plot_front(result, metric, cost, folder / "pareto_front.png")


def plot_front(result: EvolutionResult, metric: str, cost: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.plot(result.front_costs[cost], result.front_predicted, "o-", color="tab:red", label="predicted Pareto front")
    ax.set_xlabel(f"{cost} (lower is better)")
    ax.set_ylabel(f"predicted {metric} (%)")
    ax.set_title("Predicted Pareto front of the evolutionary search")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=120)
    plt.close(fig)
