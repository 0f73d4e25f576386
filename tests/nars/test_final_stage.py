"""The final stage names the evolution's point only where the predictor claims more than the search measured."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nars.config.experiment import load_experiment
from nars.config.settings import EvolutionSettings
from nars.records.recipe import Recipe, write_recipe
from nars.stages.evolution import evolve
from nars.stages.final import pick_winner
from nars.trial.proxy import proxy_space_spec
from search_spaces import load_space
from search_spaces.point import point_key

SPACE = {"parameters": {**{f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(3)},
                        "op": {"type": "choice", "values": ["a", "b", "c"]}}}
QUICKSTART = Path(__file__).resolve().parents[2] / "experiments" / "quickstart_search.yaml"


class KnownPredictor:
    """Prefers x near 0.7 and op 'b'; its maximum is 0.3."""

    def __init__(self, space) -> None:
        self.columns = space.feature_names

    def predict(self, X: np.ndarray) -> np.ndarray:
        x = np.stack([X[:, self.columns.index(f"x{i}")] for i in range(3)], axis=1)
        return -((x - 0.7) ** 2).sum(axis=1) + 0.3 * X[:, self.columns.index("op=b")]


def evolved(space, predictor):
    return evolve(space, predictor.predict, settings=EvolutionSettings(population=32, generations=5, children_per_generation=256), progress=False)


def test_a_measured_trial_above_every_prediction_wins():
    space = load_space(SPACE)
    predictor = KnownPredictor(space)
    result = evolved(space, predictor)
    points = space.sample(4, seed=1, method="random")
    y = np.array([0.1, result.best_predicted + 1.0, -0.5, 0.2])  # the second trial measured more than anything predicted

    point, predicted, passed_over = pick_winner(result, space, points, y, predictor)

    assert point_key(point) == point_key(points[1])
    assert predicted == float(predictor.predict(space.encode([points[1]]))[0]), "the predictor's value for the trial"
    assert passed_over == result.best_predicted


def test_the_evolved_point_wins_where_it_is_predicted_above_every_trial():
    space = load_space(SPACE)
    predictor = KnownPredictor(space)
    result = evolved(space, predictor)
    points = space.sample(4, seed=1, method="random")
    y = np.full(4, result.best_predicted - 0.01)

    point, predicted, passed_over = pick_winner(result, space, points, y, predictor)

    assert point_key(point) == point_key(result.best) and predicted == result.best_predicted and passed_over is None


def test_the_recipe_header_says_why_a_trial_won_and_still_reads_back(tmp_path):
    space = load_space(proxy_space_spec(load_experiment(QUICKSTART).space))
    point = space.sample(1, seed=0, method="random")[0]
    path = tmp_path / "best_recipe.yaml"
    write_recipe(space, point, path, predicted=4.2, measured=5.1, metric="ap", proxy_epochs=5,
                 note="the best trial of the search: the evolution's best point was predicted 4.80, not surely above this trial's measurement")

    header = [line for line in path.read_text().splitlines() if line.startswith("#")]
    assert header[2] == "# predicted ap: 4.20; measured on the proxy budget: 5.10"
    assert header[3].startswith("# the best trial of the search: the evolution's best point was predicted 4.80")
    recipe = Recipe.read(path)
    assert (recipe.predicted, recipe.measured) == (4.2, 5.1)


def test_a_point_predicted_above_the_best_trial_by_less_than_its_doubt_does_not_win():
    """The maximum of thousands of predictions is biased upward: 0.01 above the best measurement is not enough where
    the prediction's calibrated std is 0.05, and enough where it is 0.005."""
    space = load_space(SPACE)
    predictor = KnownPredictor(space)
    result = evolved(space, predictor)
    points = space.sample(4, seed=1, method="random")
    y = np.full(4, result.best_predicted - 0.01)

    point, _, passed_over = pick_winner(result, space, points, y, predictor, margin=0.05)
    assert point_key(point) == point_key(points[0]) and passed_over == result.best_predicted
    point, _, passed_over = pick_winner(result, space, points, y, predictor, margin=0.005)
    assert point_key(point) == point_key(result.best) and passed_over is None
