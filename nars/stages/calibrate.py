"""The `--calibrate` stage of a search: train the same random candidates at every budget of the grid and
at the full one, and choose the proxy budget by rank agreement (`nars.stages.budget`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from core.atomic import atomic_write_text
from core.errors import UserError
from detector.data.paths import DataPaths
from nars.config.experiment import Experiment
from nars.records import run_folder
from nars.records.tables import LABELLED, collect, points_of
from nars.searchers.random_search import RandomSearcher
from nars.stages.budget import CONFIDENCE, agreement, choose_budget
from nars.trial.costs import Costs
from nars.tune.runner import run_tune
from search_spaces.point import point_key

if TYPE_CHECKING:
    from nars.trial.spec import TrialFn
    from search_spaces.fbnetv3.space import FBNetV3Space

MIN_CANDIDATES = 5  # candidates that must finish both a budget and the full one for a rank agreement


def calibrate(experiment: Experiment, space: FBNetV3Space, space_spec: dict[str, Any], paths: DataPaths, costs: Costs, storage: str,
              output: Path, resume: bool, device: str, trial_fn: TrialFn | None = None) -> tuple[int, pd.DataFrame]:
    """Train the same random candidates at every budget of the grid and at the full one, each as a trial
    trains (its own compressed schedule); returns the chosen proxy budget and the candidates' trials at it,
    which are trials of that budget like any other and become predictor labels."""
    s, c = experiment.search, experiment.search.calibrate
    tables: dict[int, pd.DataFrame] = {}
    for epochs in [*c.budgets, c.full_epochs]:
        # the same seed draws the same candidates for every budget
        searcher = RandomSearcher(space, max_trials=c.candidates, feasible=costs.feasibility, seed=s.seed + 1)
        results = run_tune(experiment, space_spec, paths, costs.settings, output, storage, f"{run_folder.CALIBRATION_NAME}_{epochs}", searcher,
                           c.candidates, epochs, resume, device, asha=False, trial_fn=trial_fn)
        trials, _ = collect(results, epochs, s.metric)
        tables[epochs] = trials[trials["status"].isin(LABELLED) & trials[s.metric].notna()]
    full = _by_point(tables[c.full_epochs], s.metric)
    agreements = []
    for epochs in c.budgets:
        at_budget = _by_point(tables[epochs], s.metric)
        both = sorted(at_budget.keys() & full.keys())
        if len(both) < MIN_CANDIDATES:
            raise UserError(f"calibration: only {len(both)} candidates finished both {epochs} and {c.full_epochs} epochs; "
                            f"need {MIN_CANDIDATES}")
        agreements.append(agreement(epochs, np.array([at_budget[k] for k in both]), np.array([full[k] for k in both]), seed=s.seed))
    chosen = choose_budget(agreements, c.full_epochs, c.threshold)
    atomic_write_text(output / run_folder.CALIBRATION, json.dumps({
        "rule": f"smallest budget whose {CONFIDENCE:.0%} bootstrap interval of Kendall tau with the {c.full_epochs}-epoch "
                f"ranking starts at >= {c.threshold}",
        "budgets": {a.epochs: a.as_dict() for a in agreements}, "threshold": c.threshold, "full_epochs": c.full_epochs,
        "proxy_epochs": chosen, "candidates": c.candidates}, indent=2))
    shown = ", ".join(f"{a.epochs} ep: tau {a.kendall_tau:.2f} [{a.interval[0]:.2f}, {a.interval[1]:.2f}]" for a in agreements)
    print(f"calibration: proxy budget {chosen} epochs ({shown}; rule: interval start >= {c.threshold})")
    return chosen, tables[chosen]


def _by_point(trials: pd.DataFrame, metric: str) -> dict[str, float]:
    """{point key: measured metric} of a trials table."""
    return {point_key(p): v for p, v in zip(points_of(trials), trials[metric], strict=True)}
