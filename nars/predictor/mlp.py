"""The NARS accuracy predictor: an ensemble of MLPs whose encoder is pretrained on free statistics."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Self

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from nars.predictor.base import Predictor, check_features, check_training_data

_ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "silu": nn.SiLU}
_LOSSES = ("huber", "huber+rank")


def _tensor(values: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(values, dtype=torch.float32)


@dataclass(frozen=True)
class MLPConfig:
    """Hyperparameters of `AccuracyPredictor`; saved with it so that a file rebuilds the same model.

    Training budgets are in epochs with a floor of `min_steps` gradient steps, so the work scales
    with the data size but a handful of labelled points still gets enough updates. A fixed budget,
    not early stopping: with tens of labelled points a validation split would cost a third of the
    data and be too noisy to stop on; weight decay, dropout and the ensemble regularise instead.
    """

    hidden_sizes: tuple[int, ...] = (128, 128)
    activation: str = "relu"
    dropout: float = 0.1
    ensemble_size: int = 5
    bootstrap: bool = False
    loss: str = "huber"
    huber_delta: float = 1.0
    rank_weight: float = 1.0
    lr: float = 3e-3
    finetune_lr_scale: float = 0.1
    weight_decay: float = 1e-4
    batch_size: int = 128
    pretrain_epochs: int = 20
    head_epochs: int = 100
    finetune_epochs: int = 200
    min_steps: int = 100
    predict_batch_size: int = 16384
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden_sizes", tuple(int(h) for h in self.hidden_sizes))
        if not self.hidden_sizes or min(self.hidden_sizes) < 1:
            raise ValueError(f"hidden_sizes must be a non-empty list of positive widths, got {self.hidden_sizes}")
        if self.activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {self.activation!r}")
        if self.loss not in _LOSSES:
            raise ValueError(f"loss must be one of {list(_LOSSES)}, got {self.loss!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        for name in ("ensemble_size", "batch_size", "min_steps", "predict_batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("huber_delta", "lr", "finetune_lr_scale"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("rank_weight", "weight_decay", "pretrain_epochs", "head_epochs", "finetune_epochs"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


class _EnsembleLinear(nn.Module):
    """`ensemble_size` independent linear layers applied to as many batches in one `baddbmm`.

    Training the members side by side instead of one after the other removes most of the
    per-step overhead, which dominates for the small batches of a search.
    """

    def __init__(self, ensemble_size: int, n_in: int, n_out: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(n_in)  # nn.Linear's default initialisation, per member
        self.weight = nn.Parameter(torch.empty(ensemble_size, n_in, n_out).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(ensemble_size, 1, n_out).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


class _Ensemble(nn.Module):
    """All members at once: encoder (linear, activation, dropout per hidden layer) and a linear head.

    Input `[ensemble_size, batch, n_features]` (one batch per member), output `[ensemble_size, batch, n_outputs]`.
    """

    def __init__(self, n_features: int, n_outputs: int, config: MLPConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = n_features
        for hidden in config.hidden_sizes:
            layers += [_EnsembleLinear(config.ensemble_size, width, hidden), _ACTIVATIONS[config.activation](), nn.Dropout(config.dropout)]
            width = hidden
        self.encoder = nn.Sequential(*layers)
        self.head = _EnsembleLinear(config.ensemble_size, width, n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))


def _pairwise_logistic(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """RankNet loss per member: mean of log(1 + exp(-(f_i - f_j))) over the pairs with y_i > y_j (ties skipped)."""
    better = target[..., :, None] > target[..., None, :]
    if not better.any():
        return pred.new_zeros(())
    return F.softplus(-(pred[..., :, None] - pred[..., None, :])[better]).mean()


def _standardise(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Column-wise (values - mean) / std; a constant column keeps scale 1 instead of dividing by 0."""
    mean = values.mean(axis=0)
    scale = values.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    return (values - mean) / scale, mean, scale


class AccuracyPredictor(Predictor):
    """NARS predictor: pretrained MLP encoder + accuracy head, an ensemble of `ensemble_size` members.

    Members differ by initialisation, mini-batch order and dropout, and are trained on the full
    data by default (`bootstrap=True` resamples it per member). Pretraining is per member rather
    than shared: independent initialisation is what makes a deep ensemble disagree away from the
    data, and one shared encoder would leave only the heads to differ; the members are trained
    side by side, so it costs little more than a single encoder.
    """

    kind = "mlp"

    def __init__(self, config: MLPConfig | None = None, **kwargs: Any) -> None:
        if config is not None and kwargs:
            raise ValueError("pass either an MLPConfig or keyword arguments, not both")
        self.config = config if config is not None else MLPConfig(**kwargs)
        self.n_features_in_ = None
        self._pretrained: dict[str, torch.Tensor] | None = None
        self._model: _Ensemble | None = None
        self._y_mean = 0.0
        self._y_scale = 1.0

    @property
    def is_pretrained(self) -> bool:
        return self._pretrained is not None

    def _steps(self, epochs: int, n: int) -> int:
        return max(self.config.min_steps, math.ceil(epochs * n / self.config.batch_size)) if epochs else 0

    def _train(self, model: _Ensemble, loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], X: torch.Tensor, Y: torch.Tensor, rows: torch.Tensor, lr: float, steps: int, generator: torch.Generator) -> None:
        """AdamW with a cosine schedule over `steps` mini-batches; member k draws from `X[rows[k]]`.

        Only parameters with `requires_grad` are trained, which is how the encoder is frozen.
        """
        if steps == 0:
            return
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=self.config.weight_decay)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
        model.train()
        done = 0
        while done < steps:
            # a fresh permutation of each member's rows per epoch
            order = rows.gather(1, torch.rand(rows.shape, generator=generator).argsort(dim=1))
            for batch in order.split(self.config.batch_size, dim=1)[: steps - done]:
                optimizer.zero_grad(set_to_none=True)
                loss_fn(model(X[batch]), Y[batch]).backward()
                optimizer.step()
                schedule.step()
                done += 1
        model.eval()

    def pretrain(self, X_unlabelled: np.ndarray, stats: np.ndarray) -> Self:
        """Train the members' encoders to predict free statistics (`stats`: [n] or [n, k]) of unlabelled points.

        Statistics are standardised per column (pass logs of FLOPs/params, which span decades).
        Replaces any earlier fit: call `fit` afterwards.
        """
        X = check_features(X_unlabelled, name="X_unlabelled")
        stats = np.asarray(stats, dtype=np.float64)
        stats = stats[:, None] if stats.ndim == 1 else stats
        if stats.ndim != 2 or stats.shape[0] != X.shape[0]:
            raise ValueError(f"stats must be [n] or [n, k] with n = {X.shape[0]} rows of X_unlabelled, got shape {stats.shape}")
        if not np.isfinite(stats).all():
            raise ValueError("stats contains NaN or infinite values")
        if X.shape[0] < 2:
            raise ValueError(f"pretrain needs at least 2 points, got {X.shape[0]}")
        targets, _, _ = _standardise(stats)
        n = X.shape[0]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.config.seed)
            model = _Ensemble(X.shape[1], stats.shape[1], self.config)
            rows = torch.arange(n).expand(self.config.ensemble_size, n)
            generator = torch.Generator().manual_seed(self.config.seed)
            steps = self._steps(self.config.pretrain_epochs, n)
            self._train(model, F.mse_loss, _tensor(X), _tensor(targets), rows, self.config.lr, steps, generator)
        self.n_features_in_ = X.shape[1]
        self._pretrained = {name: value.detach().clone() for name, value in model.encoder.state_dict().items()}
        self._model = None
        return self

    def _accuracy_loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        pred = pred.squeeze(-1)
        loss = F.huber_loss(pred, target, delta=self.config.huber_delta)
        if self.config.loss == "huber+rank":
            loss = loss + self.config.rank_weight * _pairwise_logistic(pred, target)
        return loss

    def fit(self, X: np.ndarray, y: np.ndarray) -> Self:
        """Fit the accuracy head on measured accuracy (every call starts again from the pretrained encoder).

        Pretrained: the head alone with the encoder frozen, then everything at
        `lr * finetune_lr_scale`, as in the paper. Not pretrained: a frozen random encoder is no
        use, so everything trains at `lr` for both budgets together.
        """
        X, y = check_training_data(X, y, self.n_features_in_ if self.is_pretrained else None)
        targets, y_mean, y_scale = _standardise(y)
        Xt, Yt = _tensor(X), _tensor(targets)
        n, k = X.shape[0], self.config.ensemble_size
        head_steps = self._steps(self.config.head_epochs, n)
        finetune_steps = self._steps(self.config.finetune_epochs, n)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.config.seed + 1)
            generator = torch.Generator().manual_seed(self.config.seed + 1)
            model = _Ensemble(X.shape[1], 1, self.config)
            rows = torch.randint(n, (k, n), generator=generator) if self.config.bootstrap else torch.arange(n).expand(k, n)
            if self._pretrained is None:
                self._train(model, self._accuracy_loss, Xt, Yt, rows, self.config.lr, head_steps + finetune_steps, generator)
            else:
                model.encoder.load_state_dict(self._pretrained)
                model.encoder.requires_grad_(False)
                self._train(model, self._accuracy_loss, Xt, Yt, rows, self.config.lr, head_steps, generator)
                model.encoder.requires_grad_(True)
                self._train(model, self._accuracy_loss, Xt, Yt, rows, self.config.lr * self.config.finetune_lr_scale, finetune_steps, generator)
        self.n_features_in_ = X.shape[1]
        self._model = model
        self._y_mean, self._y_scale = float(y_mean), float(y_scale)
        return self

    def _is_fitted(self) -> bool:
        return self._model is not None

    def predict(self, X: np.ndarray, return_std: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Ensemble mean (and standard deviation across members) in the units of `y`.

        Scored in chunks of `predict_batch_size` rows, every member on the same chunk, which bounds
        memory (about ensemble_size * chunk * width floats per layer) whatever the pool size.
        """
        X = self._check_predict_input(X)
        assert self._model is not None
        k = self.config.ensemble_size
        with torch.inference_mode():
            outputs = torch.cat([self._model(chunk.expand(k, -1, -1)).squeeze(-1) for chunk in _tensor(X).split(self.config.predict_batch_size)], dim=1)
            mean = (outputs.mean(dim=0) * self._y_scale + self._y_mean).double().numpy()
            std = (outputs.std(dim=0, correction=0) * self._y_scale).double().numpy()
        return (mean, std) if return_std else mean

    def _state(self) -> dict[str, Any]:
        return {
            "config": asdict(self.config),
            "n_features": self.n_features_in_,
            "pretrained": self._pretrained,
            "model": None if self._model is None else self._model.state_dict(),
            "y_mean": self._y_mean,
            "y_scale": self._y_scale,
        }

    @classmethod
    def _from_state(cls, data: dict[str, Any]) -> Self:
        predictor = cls(MLPConfig(**data["config"]))
        predictor.n_features_in_ = data["n_features"]
        predictor._pretrained = data["pretrained"]
        if data["model"] is not None:
            predictor._model = _Ensemble(data["n_features"], 1, predictor.config)
            predictor._model.load_state_dict(data["model"])
            predictor._model.eval()
        predictor._y_mean, predictor._y_scale = data["y_mean"], data["y_scale"]
        return predictor
