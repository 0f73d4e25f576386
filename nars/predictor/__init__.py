"""The NARS accuracy predictor (FBNetV3, "Neural Architecture-Recipe Search") and its baselines.

Inputs are plain numpy arrays so that the predictor knows nothing of the search space: `X` is
`[n, d]` encoded points (one-hot categoricals, min-max numerics in [0, 1]) and `y` is `[n]`
measured accuracy, higher is better.

`AccuracyPredictor` follows the paper: an MLP encoder is first *pretrained* on thousands of
unlabelled points to predict free statistics (log FLOPs, log params, ...), which costs no
training runs, then an accuracy head is fitted on the few measured points with the encoder
frozen, and finally the whole network is fine-tuned at a lower learning rate. An ensemble of
independently seeded members gives the uncertainty the searcher explores with.

`make_predictor("random_forest" | "gp")` gives scikit-learn baselines behind the same API, so a
search or a notebook can swap predictors by name; `Predictor.load(path)` reads any kind back.

`base` holds the interface, checks, file format and registry; `mlp` the NARS predictor;
`sklearn_baselines` the baselines.
"""

from __future__ import annotations

from nars.predictor.base import PREDICTORS, Predictor, make_predictor
from nars.predictor.mlp import AccuracyPredictor, MLPConfig
from nars.predictor.sklearn_baselines import GaussianProcessPredictor, RandomForestPredictor

__all__ = [
    "PREDICTORS", "AccuracyPredictor", "GaussianProcessPredictor", "MLPConfig", "Predictor", "RandomForestPredictor", "make_predictor",
]
