"""Local search without Ray: one-parameter neighbourhoods, first improvement, restarts, no point twice."""

from __future__ import annotations

import numpy as np
import pytest
from ray.tune.search import Searcher

from nars.searchers.local import LocalSearch, neighbours, value_neighbours
from search_spaces import load_space
from search_spaces.point import point_key

TINY = load_space({"parameters": {f"x{i}": {"type": "choice", "values": [0, 1, 2]} for i in range(3)}})  # 27 points


def differing(a: dict, b: dict) -> int:
    return sum(a[k] != b[k] for k in a)


def test_neighbour_values_per_parameter_type():
    space = load_space({"parameters": {"c": {"type": "choice", "values": ["a", "b", "c"]},
                                       "i": {"type": "int", "low": 1, "high": 9, "step": 2},
                                       "f": {"type": "float", "low": 1e-4, "high": 1.0, "log": True}}})
    c, i, f = space.params
    assert value_neighbours(c, "b") == ["a", "c"]
    assert value_neighbours(i, 1) == [3] and value_neighbours(i, 5) == [3, 7]
    down, up = value_neighbours(f, 1e-2)
    assert down == pytest.approx(1e-2 / 10 ** 0.4) and up == pytest.approx(1e-2 * 10 ** 0.4)  # 0.1 of 4 decades
    assert value_neighbours(f, 1.0) == [pytest.approx(10 ** -0.4)]  # nothing beyond the bound
    point = {"c": "a", "i": 1, "f": 1e-2}
    assert len(neighbours(space, point, np.random.default_rng(0))) == 2 + 1 + 2


def test_only_neighbours_of_the_incumbent_never_twice_and_restarts_at_a_local_optimum():
    searcher = LocalSearch(TINY, initial=3, seed=0, metric="score", mode="max")
    seen: set[str] = set()
    for i in range(40):
        restarts, tried = searcher.restarts, set(searcher.tried)
        incumbent = searcher.incumbent or (max(searcher.starts, key=lambda s: s[1]) if searcher.starts else None)  # to be picked
        point = searcher.suggest(str(i))
        if point == Searcher.FINISHED:
            break
        assert point_key(point) not in seen
        seen.add(point_key(point))
        if searcher.restarts > restarts:  # a restart only once every neighbour of the incumbent was tried
            assert all(point_key(n) in tried for n in neighbours(TINY, incumbent[0], np.random.default_rng(0)))
        elif searcher.incumbent is not None:
            assert differing(point, searcher.incumbent[0]) == 1
        else:
            assert i < 3 or searcher.restarts  # a random point: the start, or right after a restart
        searcher.on_trial_complete(str(i), {"score": 0.0})  # flat: no neighbour ever improves
    assert searcher.restarts >= 2 and len(seen) >= 20 and point == Searcher.FINISHED


def test_moves_to_the_first_improving_neighbour_and_climbs_to_the_optimum():
    searcher = LocalSearch(TINY, initial=3, seed=1, metric="score", mode="max")
    values = []
    for i in range(15):
        point = searcher.suggest(str(i))
        incumbent = searcher.incumbent
        searcher.on_trial_complete(str(i), {"score": float(sum(point.values()))})
        if incumbent is not None and sum(point.values()) > incumbent[1]:
            assert searcher.incumbent == (point, sum(point.values()))
        values.append(searcher.incumbent[1] if searcher.incumbent else None)
    climbed = [v for v in values if v is not None]
    first_run = climbed[:climbed.index(6) + 1]  # unimodal: the first run climbs to (2, 2, 2), then restarts
    assert first_run == sorted(first_run) and searcher.restarts == 1
    minimise, lowest = LocalSearch(TINY, initial=3, seed=1, metric="score", mode="min"), []
    for i in range(15):
        point = minimise.suggest(str(i))
        minimise.on_trial_complete(str(i), {"score": float(sum(point.values()))})
        lowest.append(minimise.incumbent[1] if minimise.incumbent else np.inf)
    assert min(lowest) == 0


def test_save_and_restore_continue_identically(tmp_path):
    def drive(searcher: LocalSearch, start: int, n: int) -> list[dict]:
        points = []
        for i in range(start, start + n):
            point = searcher.suggest(str(i))
            searcher.on_trial_complete(str(i), {"score": float(point["x0"] - point["x1"])})
            points.append(point)
        return points

    first = LocalSearch(TINY, initial=3, seed=2, metric="score", mode="max")
    drive(first, 0, 8)
    first.save(str(tmp_path / "state.json"))
    second = LocalSearch(TINY, initial=3, seed=2, metric="score", mode="max")
    second.restore(str(tmp_path / "state.json"))
    assert drive(first, 8, 8) == drive(second, 8, 8)


def test_bad_initial():
    with pytest.raises(ValueError, match="initial >= 1"):
        LocalSearch(TINY, initial=0)
