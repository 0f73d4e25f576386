"""`load_run(path)`: one search as pandas tables, with the questions users ask of them as methods.

A finished run is read from its `trials.csv` / `curves.csv`; a run still in progress (no
`trials.csv` yet) and a bare Ray storage path (a cluster's `--storage`) from Ray's trial folders,
through the same table builder, so the columns are the same either way.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from core.errors import DataError
from core.yaml_io import read_yaml
from nars.analysis.ray_folder import is_experiment, read_experiment
from nars.config.experiment import DataSettings
from nars.records import run_folder
from nars.records.recipe import Recipe
from nars.records.tables import MEASURED, PARAM_PREFIX, typed_curves, typed_trials
from nars.records.trained import Trained, default_folder, final_folder, read_trained
from nars.records.verdict import measured_trials

MIN_QUALITY_TRIALS = 3  # fewer measured trials in a round give no rank correlation
MIN_IMPORTANCE_TRIALS = 4
QUALITY_SCORES = ("kendall_tau", "spearman", "rmse")  # the keys of `nars.predictor.metrics.ranking_metrics`


COST_AXES: dict[str, tuple[float, str, str, str]] = {
    "flops": (1e9, "FLOPs", "GFLOPs", "FLOPs (GFLOPs, one image at the search resolution)"),
    "params": (1e6, "params", "M params", "parameters (millions)"),
    "latency_ms": (1.0, "latency", "latency (ms)", "latency (ms, as search.latency measures it)"),
}
"""Cost column -> (unit divisor, name, table heading, axis label) for fronts drawn and tabled."""


@dataclass
class Run:
    """One search: `trials` (one row per trial) and `curves` (one row per trial and epoch).

    `trials` columns: trial_id (str), round (Int64; missing for baselines), status (str: ok,
    stopped, failed, infeasible, running), error (str, "" if none), ap / ap50 / ap75 (float, %),
    flops, params, latency_ms (float), epochs (int), wall_time_s (float), predicted /
    predicted_std (float: the round's predictor's guess before the trial trained; missing in
    round 0, for baselines and in older runs), finished_at (float, Unix time of the last
    report), then `param.<name>` per search-space parameter (float/int, bool or str; missing
    where a conditional parameter does not apply). `curves` columns: trial_id (str), epoch
    (int), ap, ap50, ap75, loss, lr, time_total_s (float). `source` is the file or Ray folder the
    tables were read from; `recipe` what `best_recipe.yaml` says, if there is one. `trained` is what the
    winner measured after its final training (`trained_error` why `RUN/final` gave nothing), `default` what
    the default recipe (`default_recipe.yaml`) measured once trained (`default_error` why `RUN/default` gave nothing).
    """

    path: Path
    config: dict[str, Any]
    trials: pd.DataFrame
    curves: pd.DataFrame
    source: Path
    recipe: Recipe | None = None
    label: str = ""  # how figures and the report name the run; default "<searcher> (<folder>)"
    trained: Trained | None = None
    trained_error: str = ""
    default: Trained | None = None
    default_error: str = ""

    def __post_init__(self) -> None:
        self.label = self.label or f"{self.searcher} ({self.path.name})"

    @property
    def metric(self) -> str:
        return search_metric(self.config)

    @property
    def searcher(self) -> str:
        return self.config.get("search", {}).get("searcher", "unknown")

    @property
    def cost_axis(self) -> str:
        """The cost a front is drawn against: the search's first cost objective when its trials
        recorded it (`search.objectives: [ap, latency_ms]`), else FLOPs."""
        for name in self.config.get("search", {}).get("objectives", [])[1:]:
            if name in COST_AXES and name in self.trials and self.trials[name].notna().any():
                return name
        return "flops"

    def measured(self) -> pd.DataFrame:
        """Trials whose accuracy was measured (status ok or stopped early), best first."""
        return measured_trials(self.trials, self.metric)

    def train_flags(self) -> str:
        """The `detector.train` flags of the search's data set, as the search's config names it."""
        try:
            return DataSettings.model_validate(self.config.get("data", {})).train_flags(self.path)
        except ValidationError:
            return "--data <dataset>"

    def inheritance(self) -> pd.DataFrame:
        """Measured trials by `init` (inherited / partial / scratch): count, AP and the share inherited;
        empty when no trial started from a checkpoint."""
        data = self.measured()
        if "init" not in data or not data["init"].isin(INHERITING).any():
            return pd.DataFrame()
        share = data["inherited_share"] if "inherited_share" in data else pd.Series(np.nan, index=data.index)
        grouped = data.assign(inherited_share=share).groupby("init", sort=False)
        table = grouped.agg(trials=(self.metric, "size"), best=(self.metric, "max"), median=(self.metric, "median"),
                            median_share=("inherited_share", "median"))
        order = [i for i in (*INHERITING, "scratch") if i in table.index]
        return table.loc[order].rename(columns={"best": f"best {self.metric}", "median": f"median {self.metric}",
                                                "median_share": "median share inherited"}).reset_index()

    def best(self, k: int = 5) -> pd.DataFrame:
        """The `k` measured trials with the highest accuracy."""
        return self.measured().head(k)

    def pareto(self, x: str = "flops", y: str | None = None) -> pd.DataFrame:
        """Measured trials no other one beats on both `x` (a cost, minimised) and `y` (accuracy,
        maximised; default the search metric), sorted by `x`."""
        from nars.searchers.pareto import pareto_mask

        y = y or self.metric
        for column in (x, y):
            if column not in self.trials:
                raise DataError(f"no column '{column}' in the trials of {self.path} (columns: {', '.join(self.trials.columns[:16])}, ...)")
        data = self.measured()
        data = data[data[x].notna() & data[y].notna()]
        mask = pareto_mask(data[[x, y]].to_numpy(dtype=np.float64), [False, True])
        return data[mask].sort_values([x, y], ascending=[True, False])

    def predictor_quality(self, by_round: bool = True) -> pd.DataFrame:
        """Kendall tau, Spearman and RMSE of `predicted` vs measured accuracy, per round (or pooled).

        Each round's predictions were made before its trials trained, so every figure is on trials
        that round's predictor had not seen. Rounds with fewer than 3 measured trials give NaN.
        An empty table's `attrs["why"]` says why there is nothing to score.
        """
        from nars.predictor.metrics import ranking_metrics

        data = self.measured()
        data = data[data["predicted"].notna()]
        if by_round:
            groups = list(data.groupby("round", sort=True))
        else:
            groups = [(pd.NA, data)] if len(data) else []
        rows = []
        for round_, group in groups:
            if len(group) >= MIN_QUALITY_TRIALS:
                scores = ranking_metrics(group[self.metric], group["predicted"])
            else:
                scores = dict.fromkeys(QUALITY_SCORES, math.nan)
            rows.append({"round": round_, "n": len(group), **scores})
        table = pd.DataFrame(rows, columns=["round", "n", *QUALITY_SCORES])
        table = table.astype({"round": "Int64", "n": "int64", **dict.fromkeys(QUALITY_SCORES, "float64")})
        if table.empty:
            table.attrs["why"] = self._no_predictions_reason()
        return table

    def _no_predictions_reason(self) -> str:
        if self.searcher not in ("nars", "unknown"):
            return f"the '{self.searcher}' searcher makes no predictions"
        if not (self.measured()["round"].fillna(0) >= 1).any():
            return f"no trial of a predicted round (round >= 1) has a measured {self.metric} yet"
        return "the trials of rounds >= 1 carry no `predicted` value (the run was recorded before that column existed)"

    def importance(self, n_repeats: int = 5, seed: int = 0) -> pd.DataFrame:
        """Parameter importance for the measured accuracy: scikit-learn permutation importance of a
        random forest fitted on the measured trials (see `nars.analysis.importance`)."""
        from nars.analysis.importance import permutation_importance_table

        data = self.measured()
        params = [c for c in data.columns if c.startswith(PARAM_PREFIX)]
        if len(data) < MIN_IMPORTANCE_TRIALS or not params:
            table = pd.DataFrame({"parameter": pd.Series(dtype="str"), "importance": pd.Series(dtype="float64"),
                                  "importance_std": pd.Series(dtype="float64")})
            table.attrs["why"] = f"{len(data)} measured trial(s) with {len(params)} parameter(s); importance needs >= {MIN_IMPORTANCE_TRIALS} trials"
            return table
        return permutation_importance_table(data[params], data[self.metric], n_repeats=n_repeats, seed=seed)

    def best_so_far(self) -> pd.DataFrame:
        """Best measured accuracy after each finished trial, in the order trials finished.

        The order is `finished_at`; older runs without it are ordered by round, then trial id.
        """
        done = self.trials[self.trials["status"] != "running"]
        keys = ["finished_at"] if done["finished_at"].notna().any() else ["round", "trial_id"]
        done = done.sort_values(keys, kind="stable", na_position="last").reset_index(drop=True)
        value = done[self.metric].where(done["status"].isin(MEASURED))
        return pd.DataFrame({"trial": np.arange(1, len(done) + 1), "trial_id": done["trial_id"], "status": done["status"],
                             "value": value, "best": value.cummax().ffill()})

    def winner(self) -> dict[str, Any] | None:
        """The final recipe as plotted beside the trials: predicted and measured accuracy, and its
        costs when known (written in the recipe header, or of the trial that measured it)."""
        if self.recipe is None or self.recipe.predicted is None:
            return None
        costs = {name: self.recipe.costs.get(name) for name in COST_AXES}
        trial_id = None
        if self.recipe.measured is not None:
            data = self.measured()
            # the header rounds to 2 decimals
            close = data[np.isclose(data[self.metric], self.recipe.measured, rtol=0, atol=5e-3)]
            if len(close) == 1:
                trial_id = close["trial_id"].iloc[0]
                costs = {name: value if value is not None or name not in close or pd.isna(close[name].iloc[0])
                         else float(close[name].iloc[0]) for name, value in costs.items()}
        return {"predicted": self.recipe.predicted, "measured": self.recipe.measured, **costs, "trial_id": trial_id}


INHERITING = ("inherited", "partial")
"""`init` values of trials that took weights from a checkpoint (`detector.weights.inherit`)."""


def load_run(path: str | Path, trained: str | Path | None = None, default: str | Path | None = None) -> Run:
    """Load a run folder of `python -m nars.search` (finished or in progress) or a Ray storage path.

    `trained`: the winner's final training (a `detector.train` folder or an `eval_<split>.json`), by default
    `RUN/final` when it exists; `default`: the default recipe's, trained by the user for comparison, by default `RUN/default`.
    """
    path = Path(path).expanduser().resolve()
    if not path.is_dir():
        raise DataError(f"run folder not found: {path}")
    config_file = path / run_folder.SEARCH_CONFIG
    config = read_yaml(config_file, "search config") if config_file.is_file() else {}
    metric = search_metric(config)
    if (path / run_folder.TRIALS_CSV).is_file():
        trials = typed_trials(_read_csv(path / run_folder.TRIALS_CSV), metric)
        curves_file = path / run_folder.CURVES_CSV
        curves = typed_curves(_read_csv(curves_file) if curves_file.is_file() else pd.DataFrame())
        source = path / run_folder.TRIALS_CSV
    else:
        source = next((f for f in (path / run_folder.RAY / run_folder.RAY_NAME, path / run_folder.RAY_NAME, path) if is_experiment(f)), None)
        if source is None:
            raise DataError(f"{path} holds no trials.csv and no Ray trial folders (*/params.json): not a search run, "
                            "nor its --storage path")
        trials, curves = read_experiment(source, _proxy_epochs(path, config), metric)
    found, error = _trained(trained, final_folder(path), metric)
    default_found, default_error = _trained(default, default_folder(path), metric)
    return Run(path, config, trials, curves, source, Recipe.read(path / run_folder.BEST_RECIPE), trained=found, trained_error=error,
               default=default_found, default_error=default_error)


def _trained(given: str | Path | None, folder: Path, metric: str) -> tuple[Trained | None, str]:
    """What a training measured: the path the user gave (an error if unreadable), else the run's own `folder` if any
    (with why it gave nothing: still training, or not evaluated; the report says so)."""
    if given is not None:
        return read_trained(given, metric), ""
    if not folder.is_dir():
        return None, ""
    try:
        return read_trained(folder, metric), ""
    except DataError as exc:
        return None, str(exc)


def search_metric(config: dict[str, Any]) -> str:
    """The accuracy a search maximised (`search.objectives[0]`; `ap` when unknown)."""
    return (config.get("search", {}).get("objectives") or ["ap"])[0]


def _proxy_epochs(path: Path, config: dict[str, Any]) -> int | None:
    """The proxy budget a trial had to finish: the calibrated one when `--calibrate` chose it."""
    calibration = path / run_folder.CALIBRATION
    if calibration.is_file():
        try:
            return int(json.loads(calibration.read_text())["proxy_epochs"])
        except (ValueError, KeyError, TypeError) as exc:
            raise DataError(f"{calibration}: unreadable ({exc})") from None
    return config.get("search", {}).get("proxy_epochs")


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype={"trial_id": "str", "error": "str"})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a readable CSV table ({str(exc).splitlines()[0]})") from None
