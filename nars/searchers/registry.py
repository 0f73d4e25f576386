"""The searchers by name: one map that the CLI (`search.searcher`, `--searcher`) and the benchmarks read.

Like Ray Tune's `tune/search/__init__.py`, names map to where the class lives and the class is imported
when asked for, so that reading the names (the experiment schema, `--help`) loads neither Ray nor Optuna.
`nars.searchers.request.build_searcher` builds one from a `SearchRequest`.
"""

from __future__ import annotations

from importlib import import_module

SEARCHERS: dict[str, str] = {
    "nars": "nars.searchers.nars:NARSSearcher",
    "random": "nars.searchers.random_search:RandomSearcher",
    "optuna-tpe": "nars.searchers.optuna:OptunaSearcher",
    "optuna-qmc": "nars.searchers.optuna:OptunaSearcher",
    "optuna-gp": "nars.searchers.optuna:OptunaSearcher",
    "smac": "nars.searchers.smac:SMACSearcher",
    "regularized-evolution": "nars.searchers.regularized_evolution:RegularizedEvolution",
    "local": "nars.searchers.local:LocalSearch",
}
"""Searcher name -> `module:Class`; NARS first, then the baselines."""
UNCONSTRAINED = ("optuna-tpe", "optuna-qmc", "optuna-gp", "smac")
"""Searchers that know neither the constraints nor what they measured: `build_searcher` screens their proposals
(`nars.searchers.screened`: no trial for an infeasible point or a repeat)."""


def searcher_class(name: str) -> type:
    if name not in SEARCHERS:
        raise ValueError(f"unknown searcher {name!r}; one of {', '.join(SEARCHERS)}")
    module, _, attribute = SEARCHERS[name].partition(":")
    return getattr(import_module(module), attribute)
