"""SMAC3 (random-forest Bayesian optimisation, Lindauer et al. 2022) as a Ray Tune searcher, through its ask/tell API.

A thin adapter: the space becomes a ConfigSpace (`Choice` -> categorical over the value indices, ordered when the
choice is; `Int` -> integer, or an ordered categorical of its grid when its step is not 1; `Float` -> float, log
scale kept). A condition becomes a ConfigSpace `InCondition` when its parent is a searched `Choice` or `Int`; other
conditions (on floats or pinned values) are left out and every suggestion is repaired by the space instead (inactive
parameters dropped, newly active ones drawn), as `SearchSpace.mutate` does. SMAC minimises, so a `max` metric is told
negated. State: the (configuration, cost) history as JSON; `restore` tells a fresh SMAC that history again, so a
resumed search keeps its model but redraws the rest of SMAC's initial design.
"""

from __future__ import annotations

import json
import tempfile
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.atomic import atomic_write_text
from core.errors import ConfigError
from nars.searchers.base import MetricAwareSearcher
from search_spaces.params import Choice, Float, Int, Param
from search_spaces.point import Point

if TYPE_CHECKING:
    from nars.searchers.request import SearchRequest
    from search_spaces.protocol import Space

SMAC_VERSION = "2.4.1"
"""The SMAC3 release this adapter is tested with (pinned in the `bench` and `test` extras)."""


def _hyperparameter(param: Param) -> Any:
    from ConfigSpace import Categorical, Integer
    from ConfigSpace import Float as CSFloat

    if isinstance(param, Choice):
        return Categorical(param.name, list(range(param.size)), ordered=param.ordered)
    if isinstance(param, Int):
        if param.step == 1:
            return Integer(param.name, (param.low, param.high))
        return Categorical(param.name, list(range(param.low, param.high + 1, param.step)), ordered=True)
    if isinstance(param, Float):
        return CSFloat(param.name, (param.low, param.high), log=param.log)
    raise TypeError(f"no ConfigSpace hyperparameter for parameter type {type(param).__name__}")


def config_space(space: Space, seed: int) -> Any:
    """`space` as a ConfigSpace, with the conditions ConfigSpace can state (see the module docstring)."""
    from ConfigSpace import AndConjunction, ConfigurationSpace, InCondition

    cs = ConfigurationSpace(seed=seed)
    params = {p.name: p for p in space.params if p.size != 1}
    hyperparameters = {name: _hyperparameter(p) for name, p in params.items()}
    cs.add(list(hyperparameters.values()))
    for name, param in params.items():
        conditions = []
        for parent, allowed in param.when:
            kind = params.get(parent)
            if isinstance(kind, Choice):
                conditions.append(InCondition(hyperparameters[name], hyperparameters[parent], [kind.values.index(v) for v in allowed]))
            elif isinstance(kind, Int):
                conditions.append(InCondition(hyperparameters[name], hyperparameters[parent], [int(v) for v in allowed]))
        if conditions:
            cs.add(conditions[0] if len(conditions) == 1 else AndConjunction(*conditions))
    return cs


class SMACSearcher(MetricAwareSearcher):
    """SMAC3's `HyperparameterOptimizationFacade` (random forest + expected improvement, Sobol initial design)."""

    def __init__(self, space: Space, *, max_trials: int = 100, seed: int = 0, metric: str | None = None, mode: str | None = None,
                 initial: int | None = None) -> None:
        """`initial`: configurations of the Sobol initial design (None: SMAC's default, 10 per hyperparameter but at
        most a quarter of `max_trials`)."""
        super().__init__(metric=metric, mode=mode)
        if find_spec("smac") is None:
            raise ConfigError(f"search.searcher smac needs SMAC3: pip install 'smac=={SMAC_VERSION}' (or the project's [bench] extra)")
        self.space, self.max_trials, self.seed, self.initial = space, max_trials, seed, initial
        self.history: list[tuple[dict[str, Any], float]] = []  # (SMAC configuration, cost) told so far
        self.pending: dict[str, Any] = {}  # trial id -> SMAC TrialInfo
        self._smac: Any = None
        self._workdir: tempfile.TemporaryDirectory | None = None  # SMAC's own files; removed with the searcher

    @classmethod
    def from_request(cls, request: SearchRequest) -> SMACSearcher:
        budget = {} if request.max_trials is None else {"max_trials": request.max_trials}
        return cls(request.space, seed=request.seed, metric=request.metric, mode=request.mode, initial=request.initial_points, **budget)

    def _optimizer(self) -> Any:
        """The SMAC facade, made on first use (and after `restore`), with the history told again."""
        if self._smac is None:
            from smac import HyperparameterOptimizationFacade, Scenario

            self._workdir = tempfile.TemporaryDirectory(prefix="nars_smac_")
            scenario = Scenario(config_space(self.space, self.seed), deterministic=True, n_trials=self.max_trials, seed=self.seed,
                                output_directory=Path(self._workdir.name))
            design = (None if self.initial is None
                      else HyperparameterOptimizationFacade.get_initial_design(scenario, n_configs=self.initial, max_ratio=1.0))
            self._smac = HyperparameterOptimizationFacade(scenario, _never_called, initial_design=design, overwrite=True, logging_level=40)
            for values, cost in self.history:
                self._tell(self._trial_info(values), cost)
        return self._smac

    def _trial_info(self, values: dict[str, Any]) -> Any:
        from ConfigSpace import Configuration
        from smac.runhistory.dataclasses import TrialInfo

        return TrialInfo(Configuration(self._smac.scenario.configspace, values=values), seed=self.seed)

    def _tell(self, info: Any, cost: float) -> None:
        from smac.runhistory.dataclasses import TrialValue

        self._smac.tell(info, TrialValue(cost=cost))

    def suggest(self, trial_id: str) -> Point | None:
        info = self._optimizer().ask()
        self.pending[trial_id] = info
        return self._point(dict(info.config))

    def _point(self, values: dict[str, Any]) -> Point:
        """SMAC's configuration as a point of the space: indices back to values, conditions repaired."""
        point: Point = {}
        for param in self.space.params:
            if param.name not in values:
                continue
            value = values[param.name]
            point[param.name] = (param.values[int(value)] if isinstance(param, Choice)
                                 else int(value) if isinstance(param, Int) else float(value))
        fixed = {p.name: p.value_of_unit(0.5) for p in self.space.params if p.size == 1}  # not in the ConfigSpace
        return self.space.repair({**point, **fixed}, np.random.default_rng([self.seed, len(self.history), len(self.pending)]))

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False) -> None:
        info = self.pending.pop(trial_id, None)
        value = self.measured_value(result, error)
        if info is None or value is None:
            return  # SMAC is not told a failure: it may propose the configuration again
        cost = -float(value) if self.mode == "max" else float(value)
        self._tell(info, cost)
        self.history.append((dict(info.config), cost))

    def save(self, checkpoint_path: str) -> None:
        atomic_write_text(checkpoint_path, json.dumps({"history": self.history}, default=_plain))

    def restore(self, checkpoint_path: str) -> None:
        self.history = [(values, cost) for values, cost in json.loads(Path(checkpoint_path).read_text())["history"]]
        self.pending, self._smac, self._workdir = {}, None, None


def _plain(value: Any) -> Any:
    """numpy scalars in a configuration as plain JSON numbers."""
    return value.item() if isinstance(value, np.generic) else str(value)


def _never_called(config: Any, seed: int = 0) -> float:
    """SMAC's facade requires a target function; trials run in Ray Tune and are told back instead."""
    raise RuntimeError("SMACSearcher runs trials through Ray Tune, not through SMAC")
