"""Optuna baselines (TPE, scrambled QMC, GP) through Ray's own `OptunaSearch`, with a define-by-run function that
asks Optuna for exactly the space's active parameters (conditions respected), so trials are comparable with NARS.

Each parameter gets the distribution a user who knows Optuna would write for it: an unordered choice is categorical,
an ordered one (a grid of numbers, such as a table's learning rates 1e-5 .. 1 or widths 16 .. 1024) an integer index
into its values, so that TPE's Parzen estimators and the GP's kernel see that neighbouring values are alike (as a
categorical, every value is as far from every other); integers and floats keep their range, step and log scale."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ray.tune.search.optuna import OptunaSearch

from search_spaces.params import Choice, Float, Int

if TYPE_CHECKING:
    from nars.searchers.request import SearchRequest
    from search_spaces.protocol import Space


class OptunaDefineByRun:
    """Define-by-run function asking an Optuna trial for every active parameter of `space`
    (a class, not a closure, so that Tune can pickle the searcher's state)."""

    def __init__(self, space: Space) -> None:
        self.space = space

    def __call__(self, trial: Any) -> dict[str, Any]:
        """Suggests every active parameter; returns the values of ordered choices, which Optuna holds as indices
        (Ray's `OptunaSearch` puts the returned values over the suggested ones)."""
        values: dict[str, Any] = dict(self.space.fixed)
        indexed: dict[str, Any] = {}
        for param in self.space.params:
            if not all(parent in values and values[parent] in allowed for parent, allowed in param.when):
                continue
            if isinstance(param, Choice) and param.ordered:
                values[param.name] = indexed[param.name] = param.values[trial.suggest_int(param.name, 0, param.size - 1)]
            elif isinstance(param, Choice):
                values[param.name] = trial.suggest_categorical(param.name, list(param.values))
            elif isinstance(param, Int):
                values[param.name] = trial.suggest_int(param.name, param.low, param.high, step=param.step)
            elif isinstance(param, Float):
                values[param.name] = trial.suggest_float(param.name, param.low, param.high, log=param.log)
            else:
                raise TypeError(f"no Optuna distribution for parameter type {type(param).__name__}")
        return indexed


def optuna_sampler(kind: str, seed: int, startup: int | None = None) -> Any:
    """The Optuna sampler `kind` names: TPE, scrambled QMC, or a Gaussian process (`GPSampler`, which needs torch).

    `startup`: TPE's and GP's random trials before their model is used (None: Optuna's default, 10).
    """
    import optuna

    start = {} if startup is None else {"n_startup_trials": startup}
    samplers = {
        "optuna-tpe": lambda: optuna.samplers.TPESampler(seed=seed, **start),
        "optuna-qmc": lambda: optuna.samplers.QMCSampler(seed=seed, scramble=True),
        "optuna-gp": lambda: optuna.samplers.GPSampler(seed=seed, **start),
    }
    if kind not in samplers:
        raise ValueError(f"unknown Optuna sampler {kind!r}; one of {sorted(samplers)}")
    return samplers[kind]()


class OptunaSearcher(OptunaSearch):
    """Ray's `OptunaSearch` with the sampler `kind` names (`optuna-tpe`, `optuna-qmc`, `optuna-gp`) over `space`.

    With a define-by-run space OptunaSearch takes metric and mode only here (not from TuneConfig).
    """

    def __init__(self, space: Space, kind: str, seed: int = 0, *, metric: str = "ap", mode: str = "max", startup: int | None = None) -> None:
        super().__init__(space=OptunaDefineByRun(space), sampler=optuna_sampler(kind, seed, startup), metric=metric, mode=mode)

    @classmethod
    def from_request(cls, request: SearchRequest) -> OptunaSearcher:
        return cls(request.space, request.name, request.seed, metric=request.metric, mode=request.mode, startup=request.initial_points)
