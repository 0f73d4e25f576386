"""scikit-learn baselines behind the `Predictor` interface: a random forest and a Gaussian process."""

from __future__ import annotations

import abc
import warnings
from typing import Any, Self

import numpy as np
import torch
from sklearn.ensemble import RandomForestRegressor
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

from nars.predictor.base import Predictor, check_training_data


class _SklearnPredictor(Predictor):
    """Baselines keep their training data: the file stores it (plain tensors, `weights_only`-safe)
    plus whatever makes the refit exact, and `load` refits. No pickle, so loading a file from
    someone else cannot run code; refitting on the few hundred trials of a search takes well under
    a second."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.n_features_in_ = None
        self._X: np.ndarray | None = None
        self._y: np.ndarray | None = None

    def _is_fitted(self) -> bool:
        return self._X is not None

    @abc.abstractmethod
    def _params(self) -> dict[str, Any]:
        """The constructor arguments, to rebuild the same estimator in `load`."""

    def _state(self) -> dict[str, Any]:
        if self._X is None or self._y is None:
            raise NotFittedError(f"{type(self).__name__} is not fitted yet: nothing to save")
        return {"params": self._params(), "X": torch.from_numpy(self._X), "y": torch.from_numpy(self._y)}

    @classmethod
    def _from_state(cls, data: dict[str, Any]) -> Self:
        predictor = cls(**data["params"])
        return predictor.fit(data["X"].numpy(), data["y"].numpy())


class RandomForestPredictor(_SklearnPredictor):
    """`RandomForestRegressor`; the uncertainty is the spread of the per-tree predictions.

    A fixed `seed` makes the forest, and so the refit in `load`, exactly reproducible.
    """

    kind = "random_forest"

    def __init__(self, n_estimators: int = 300, min_samples_leaf: int = 1, max_features: float = 1.0, seed: int = 0) -> None:
        super().__init__(seed)
        self.n_estimators, self.min_samples_leaf, self.max_features = n_estimators, min_samples_leaf, max_features
        self._model = RandomForestRegressor(n_estimators=n_estimators, min_samples_leaf=min_samples_leaf, max_features=max_features, random_state=seed)

    def _params(self) -> dict[str, Any]:
        return {"n_estimators": self.n_estimators, "min_samples_leaf": self.min_samples_leaf, "max_features": self.max_features, "seed": self.seed}

    def fit(self, X: np.ndarray, y: np.ndarray) -> Self:
        self._X, self._y = check_training_data(X, y)
        self._model.fit(self._X, self._y)
        self.n_features_in_ = self._X.shape[1]
        return self

    def predict(self, X: np.ndarray, return_std: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        X = self._check_predict_input(X)
        if not return_std:
            return self._model.predict(X)
        per_tree = np.stack([tree.predict(X) for tree in self._model.estimators_])
        return per_tree.mean(axis=0), per_tree.std(axis=0)


class GaussianProcessPredictor(_SklearnPredictor):
    """`GaussianProcessRegressor` with constant * Matern + white noise kernel and `normalize_y`.

    One length scale by default: `ard=True` (one per feature) fits tens of length scales to tens
    of points, which overfits and is 10-100x slower to optimise. The file keeps the fitted kernel
    hyperparameters (`theta`) besides the data, so `load` refits with the optimiser off and
    reproduces the predictions exactly.
    """

    kind = "gp"

    def __init__(self, nu: float = 2.5, ard: bool = False, n_restarts_optimizer: int = 2, seed: int = 0) -> None:
        super().__init__(seed)
        self.nu, self.ard, self.n_restarts_optimizer = nu, ard, n_restarts_optimizer
        self._model: GaussianProcessRegressor | None = None

    def _params(self) -> dict[str, Any]:
        return {"nu": self.nu, "ard": self.ard, "n_restarts_optimizer": self.n_restarts_optimizer, "seed": self.seed}

    def _state(self) -> dict[str, Any]:
        state = super()._state()
        assert self._model is not None
        return {**state, "theta": torch.from_numpy(self._model.kernel_.theta)}

    @classmethod
    def _from_state(cls, data: dict[str, Any]) -> Self:
        return cls(**data["params"])._fit(data["X"].numpy(), data["y"].numpy(), theta=data["theta"].numpy())

    def fit(self, X: np.ndarray, y: np.ndarray) -> Self:
        """Fit the kernel hyperparameters by maximum marginal likelihood, then the posterior."""
        return self._fit(X, y, theta=None)

    def _fit(self, X: np.ndarray, y: np.ndarray, theta: np.ndarray | None) -> Self:
        self._X, self._y = check_training_data(X, y)
        length_scale = np.ones(self._X.shape[1]) if self.ard else 1.0
        kernel = ConstantKernel(1.0, (1e-3, 1e3)) * Matern(length_scale, (1e-2, 1e3), nu=self.nu) + WhiteKernel(1e-2, (1e-6, 1e1))
        model = GaussianProcessRegressor(
            kernel if theta is None else kernel.clone_with_theta(theta),
            normalize_y=True,
            optimizer="fmin_l_bfgs_b" if theta is None else None,
            n_restarts_optimizer=self.n_restarts_optimizer,
            random_state=self.seed,
        )
        with warnings.catch_warnings():
            # On tens of noisy points the likelihood often peaks at a bound (noise 1e-6, length scale 1e3):
            # the bounded estimate is the intended one, and one warning per refit would bury a search's log.
            warnings.simplefilter("ignore", ConvergenceWarning)
            self._model = model.fit(self._X, self._y)
        self.n_features_in_ = self._X.shape[1]
        return self

    def predict(self, X: np.ndarray, return_std: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        X = self._check_predict_input(X)
        assert self._model is not None
        return self._model.predict(X, return_std=return_std)
