"""The SMAC3 adapter without Ray: the ConfigSpace it builds, valid points, learning from told results, restore."""

from __future__ import annotations

import pytest

from core.errors import ConfigError
from nars.searchers import smac as smac_searcher
from nars.searchers.smac import SMACSearcher, config_space
from search_spaces import load_space

SPACE = load_space({"parameters": {
    "op": {"type": "choice", "values": ["a", "b", None]},
    "depth": {"type": "int", "low": 1, "high": 9, "step": 2, "when": {"op": "b"}},
    "width": {"type": "int", "low": 8, "high": 16},
    "lr": {"type": "float", "low": 1e-4, "high": 1.0, "log": True},
    "pinned": {"type": "float", "low": 0.5, "high": 0.5},  # unconditional: a fixed value of the space
    "gate": {"type": "choice", "values": [True], "when": {"op": "a"}},  # one value, but conditional: a parameter
}})


def score(point: dict) -> float:
    return -abs(point["width"] - 12) - (1.0 if point["op"] is None else 0.0)


def one_parameter_apart(a: dict, b: dict) -> bool:
    """Whether `b` is `a` with one active parameter moved (local search's neighbour, `SearchSpace.mutate` with
    n_params=1): the parameters that this switches on or off (conditional on it) appear or go, nothing else changes."""
    moved = [name for name in a.keys() & b.keys() if a[name] != b[name]]
    switched = a.keys() ^ b.keys()
    parents = {p.name: {parent for parent, _ in p.when} for p in SPACE.params}
    return len(moved) == 1 and all(parents[name] & {*moved, *switched} for name in switched)


def drive(searcher: SMACSearcher, start: int, n: int) -> list[dict]:
    points = []
    for i in range(start, start + n):
        point = searcher.suggest(str(i))
        searcher.on_trial_complete(str(i), {"score": score(point)})
        points.append(point)
    return points


def test_config_space_mirrors_the_space():
    cs = config_space(SPACE, seed=0)
    assert sorted(cs) == ["depth", "lr", "op", "width"]  # one-value parameters are not searched
    assert list(cs["op"].choices) == [0, 1, 2] and list(cs["depth"].sequence) == [1, 3, 5, 7, 9]
    assert (cs["width"].lower, cs["width"].upper) == (8, 16) and cs["lr"].log
    assert [c.parent.name for c in cs.conditions] == ["op"]  # depth only while op is "b" (index 1)


def test_suggests_valid_points_and_learns_from_results(tmp_path):
    searcher = SMACSearcher(SPACE, max_trials=20, seed=0, metric="score", mode="max")
    points = drive(searcher, 0, 16)
    for point in points:
        SPACE.validate(point)
        assert ("depth" in point) == (point["op"] == "b") and ("gate" in point) == (point["op"] == "a")
    assert [cost for _, cost in searcher.history] == [-score(p) for p in points]  # told negated: SMAC minimises
    searcher.save(str(tmp_path / "state.json"))
    resumed = SMACSearcher(SPACE, max_trials=20, seed=0, metric="score", mode="max")
    resumed.restore(str(tmp_path / "state.json"))
    assert resumed.history == searcher.history
    # SMAC was told the history again: it proposes none of the told points (a SMAC that was not told would start its
    # initial design over, whose points are the first ones told; the restored one does not draw what the original
    # would next, as its random state starts afresh)
    after = drive(resumed, 16, 4)
    assert not [p for p in after if p in points], "a restored SMAC proposes points it was told"
    for point in after:
        SPACE.validate(point)
    assert resumed.history[:16] == searcher.history and len(resumed.history) == 20


def test_without_smac_installed_the_error_says_how_to_get_it(monkeypatch):
    monkeypatch.setattr(smac_searcher, "find_spec", lambda name: None)
    with pytest.raises(ConfigError, match=r"search.searcher smac needs SMAC3: pip install 'smac==2\.4\.1'"):
        SMACSearcher(SPACE)


@pytest.mark.parametrize("searcher", ["optuna-tpe", "optuna-gp", "smac", "local"])
def test_every_baseline_starts_with_search_initial_points(searcher):
    """`search.initial_points` is each baseline's start: after 3 random/Sobol points its model (or hill climbing) takes over."""
    from types import SimpleNamespace

    from nars.config.experiment import SearchSettings
    from nars.searchers.request import build_searcher, request_for

    settings = SearchSettings(searcher=searcher, initial_points=3)
    costs = SimpleNamespace(feasibility=None, free_stats=None, objectives=lambda names: None)
    screened = build_searcher(request_for(settings, SPACE, costs, max_trials=8))
    built = screened.inner if searcher in ("optuna-tpe", "optuna-gp", "smac") else screened  # the searcher inside the screen

    def drive(n: int) -> None:
        for i in range(n):
            built.on_trial_complete(str(i), {settings.metric: score(built.suggest(str(i)))})

    if searcher.startswith("optuna"):  # Ray's OptunaSearch holds the Optuna sampler
        assert built._sampler._n_startup_trials == 3
    elif searcher == "smac":
        origins = []
        for i in range(4):
            built.suggest(str(i))
            origins.append(built.pending[str(i)].config.origin)
            built.on_trial_complete(str(i), {settings.metric: float(i)})
        assert [origin.startswith("Initial Design") for origin in origins] == [True, True, True, False], origins
    else:
        drive(3)
        starts = list(built.starts)
        fourth = built.suggest("3")  # a one-parameter neighbour of the best of the 3 start points
        incumbent = built.incumbent[0]
        assert built.incumbent == max(starts, key=lambda start: start[1])
        assert one_parameter_apart(incumbent, fourth), (incumbent, fourth)
        # so is every neighbour until the incumbent's are used up (none improves: `score` >= -5), some moving `op`,
        # which switches the parameters conditional on it
        neighbours = [fourth]
        built.on_trial_complete("3", {settings.metric: -100.0})
        for i in range(4, 20):
            neighbours.append(built.suggest(str(i)))
            built.on_trial_complete(str(i), {settings.metric: -100.0})
            if built.restarts:
                break
        assert built.restarts == 1
        assert all(one_parameter_apart(incumbent, n) for n in neighbours[:-1]), neighbours  # the last: the restart's random point
        assert {n["op"] for n in neighbours[:-1]} == set(SPACE.params[0].values), "every op tried"
