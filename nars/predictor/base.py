"""What every predictor shares: input checks, the file format and the `Predictor` interface, with the
registry of predictor kinds that `make_predictor` and `Predictor.load` read (a subclass registers itself)."""

from __future__ import annotations

import abc
import os
from typing import Any, ClassVar, Self

import numpy as np
import torch
from sklearn.exceptions import NotFittedError

from core.atomic import atomic_open
from nars.predictor.metrics import ranking_metrics

FORMAT = "nars-predictor-v1"
PREDICTORS: dict[str, type[Predictor]] = {}
"""kind -> predictor class, filled by `Predictor.__init_subclass__`."""


# ----------------------------------------------------------------------------- input checks


def check_features(X: Any, n_features: int | None = None, name: str = "X") -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"{name} must be a 2-D array [n_points >= 1, n_features], got shape {X.shape}")
    bad = np.flatnonzero(~np.isfinite(X).all(axis=1))
    if bad.size:
        raise ValueError(f"{name} contains NaN or infinite values (rows {bad[:5].tolist()}{'...' if bad.size > 5 else ''})")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(f"{name} has {X.shape[1]} features but the predictor was trained on {n_features}")
    return X


def check_targets(y: Any, n_rows: int, name: str = "y") -> np.ndarray:
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of {n_rows} values, got shape {y.shape}")
    if y.shape[0] != n_rows:
        raise ValueError(f"{name} has {y.shape[0]} values but X has {n_rows} rows")
    bad = np.flatnonzero(~np.isfinite(y))
    if bad.size:
        raise ValueError(f"{name} contains NaN or infinite values (at {bad[:5].tolist()}{'...' if bad.size > 5 else ''})")
    return y


def check_training_data(X: Any, y: Any, n_features: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    X = check_features(X, n_features)
    y = check_targets(y, X.shape[0])
    if X.shape[0] < 2:
        raise ValueError(f"fit needs at least 2 labelled points, got {X.shape[0]}")
    return X, y


# ----------------------------------------------------------------------------- files


def _save_atomic(payload: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """`torch.save` to a temporary file beside `path`, then rename: a crash never leaves half a file."""
    with atomic_open(path, "wb") as handle:
        torch.save({"format": FORMAT, **payload}, handle)


def _read(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a predictor file with `weights_only=True`: plain data and tensors, never arbitrary objects."""
    data = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{path}: not a NARS predictor file (no '{FORMAT}' marker)")
    return data


# ----------------------------------------------------------------------------- common API


class Predictor(abc.ABC):
    """What every predictor shares: the pretrain hook, validation, scoring and the file format."""

    kind: ClassVar[str]
    n_features_in_: int | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A subclass that names its `kind` is registered under it (for `make_predictor` and `Predictor.load`)."""
        super().__init_subclass__(**kwargs)
        if "kind" in cls.__dict__:
            PREDICTORS[cls.kind] = cls

    def pretrain(self, X_unlabelled: np.ndarray, stats: np.ndarray) -> Self:
        """Baselines have no embedding to pretrain; accepted so that callers need not branch on the kind."""
        return self

    @abc.abstractmethod
    def fit(self, X: np.ndarray, y: np.ndarray) -> Self:
        """Fit on measured accuracy `y` [n] of encoded points `X` [n, d]."""

    @abc.abstractmethod
    def predict(self, X: np.ndarray, return_std: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Predicted accuracy [n], and its uncertainty (a standard deviation, same units) with `return_std`."""

    def score(self, X: np.ndarray, y: np.ndarray) -> dict[str, float]:
        """Kendall tau, Spearman and RMSE of the predictions on `(X, y)`, e.g. held-out trials."""
        X = self._check_predict_input(X)
        y = check_targets(y, X.shape[0])
        return ranking_metrics(y, self.predict(X))

    def save(self, path: str | os.PathLike[str]) -> None:
        _save_atomic({"kind": self.kind, **self._state()}, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Self:
        """Load a file written by `save`: `Predictor.load` takes any kind, a subclass only its own."""
        data = _read(path)
        kind = data.get("kind")
        if kind not in PREDICTORS:
            raise ValueError(f"{path}: unknown predictor kind {kind!r}")
        if cls is not Predictor and kind != cls.kind:
            raise ValueError(f"{path}: holds a {kind!r} predictor, not {cls.kind!r}; use Predictor.load()")
        return PREDICTORS[kind]._from_state(data)

    @abc.abstractmethod
    def _state(self) -> dict[str, Any]:
        """Everything `_from_state` needs, as tensors and plain Python data (loadable with `weights_only`)."""

    @classmethod
    @abc.abstractmethod
    def _from_state(cls, data: dict[str, Any]) -> Self:
        """Rebuild the predictor from what `_state` returned."""

    @abc.abstractmethod
    def _is_fitted(self) -> bool:
        """Whether `predict` can run."""

    def _check_predict_input(self, X: Any) -> np.ndarray:
        if not self._is_fitted():
            raise NotFittedError(f"{type(self).__name__} is not fitted yet: call fit(X, y) before predict or score")
        return check_features(X, self.n_features_in_)


def make_predictor(kind: str = "mlp", **kwargs: Any) -> Predictor:
    """Build a predictor by name: "mlp" (NARS, `MLPConfig` fields as kwargs), "random_forest" or "gp"."""
    if kind not in PREDICTORS:
        raise ValueError(f"unknown predictor kind {kind!r}; choose from {sorted(PREDICTORS)}")
    return PREDICTORS[kind](**kwargs)

