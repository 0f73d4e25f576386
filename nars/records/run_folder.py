"""The files of a search's run folder: `nars.search` writes them, `nars.analysis` reads them, by these names."""

from __future__ import annotations

SEARCH_CONFIG = "search_config.yaml"  # the resolved experiment
TRIALS_CSV = "trials.csv"  # one row per trial (`nars.records.tables`)
TRIALS_PARQUET = "trials.parquet"
CURVES_CSV = "curves.csv"  # one row per trial and epoch
BEST_RECIPE = "best_recipe.yaml"  # the winner's detector config (`nars.records.recipe`)
DEFAULT_RECIPE = "default_recipe.yaml"  # the space's default recipe, to train beside the winner for comparison
PARETO_RECIPES = "pareto_recipes"  # folder: the predicted front, with several objectives
PREDICTOR = "predictor.pt"
COSTS = "costs.json"  # the cost cache (`search_spaces.fbnetv3.cost.CostModel`)
CALIBRATION = "calibration.json"  # with `--calibrate`: each budget's agreement and the chosen proxy budget
REPORT = "report"  # folder: `nars.analysis` report
FINAL = "final"  # folder: the winner's final `detector.train` run, where the closing hint puts it; the report reads it
DEFAULT = "default"  # folder: the default recipe's `detector.train` run, likewise
TRIALS = "trials"  # folder: the trials' training files
RAY = "ray"  # folder: Ray's experiment state (the default `--storage`)
RAY_LOGS = "ray_logs"  # folder: Ray's own logs of each local session (`nars.tune.runner.keep_ray_logs`)
RAY_STORAGE = "ray_storage.txt"  # the Ray storage a search started with: a moved run folder is refused on --resume
RAY_STATE_SNAPSHOT = "ray_state_{}.json"  # per Tune experiment: its last whole state, for a kill during Ray's write (`nars.tune.state`)
RAY_NAME = "search"  # the Tune experiment name of a search: RUN/ray/search or STORAGE/search
CALIBRATION_NAME = "calibration"  # Tune experiments of `--calibrate`: calibration_<epochs>
