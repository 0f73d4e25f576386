"""The NARS accuracy predictor and its baselines, on a known toy 'architecture + recipe' function.

Run with `-s` to see the Kendall tau figures. Prediction speed is a benchmark (the evolution section of
benchmarks/search_overhead.py scores candidates with this predictor), not a test.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from nars.predictor import AccuracyPredictor, MLPConfig, Predictor, RandomForestPredictor, make_predictor
from nars.predictor.metrics import ranking_metrics

N_TRAIN = 64
STAGE_BASE_CHANNELS = (16, 32, 64, 128)
STAGE_STRIDES = (4, 8, 16, 32)
WIDTHS, DEPTHS, KERNELS = (0.75, 1.0, 1.25), (1, 2, 3, 4), (3, 5)
TINY = {"hidden_sizes": (16,), "ensemble_size": 2, "min_steps": 5}  # for tests where quality is not the point


def toy_space(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`n` encoded points of a toy search space, their log FLOPs (the free statistic) and 'accuracy'.

    Categoricals, one-hot: width multiplier, depth and kernel of 4 stages, augmentation, optimizer.
    Numerics in [0, 1]: resolution, learning rate, weight decay, epochs, one nuisance knob.
    FLOPs multiply resolution^2 * depth * width^2 * kernel^2 per stage: interactions that 64
    labelled points cannot pin down but thousands of free unlabelled ones can. Accuracy is a
    saturating function of log FLOPs plus per-categorical effects, smooth numeric terms and noise.
    """
    rng = np.random.default_rng(seed)
    resolution = rng.random(n)
    columns, flops = [], np.zeros(n)
    for base, stride in zip(STAGE_BASE_CHANNELS, STAGE_STRIDES):
        width, depth, kernel = rng.integers(3, size=n), rng.integers(4, size=n), rng.integers(2, size=n)
        columns += [np.eye(3)[width], np.eye(4)[depth], np.eye(2)[kernel]]
        channels = base * np.take(WIDTHS, width)
        flops += ((160 + 96 * resolution) / stride) ** 2 * np.take(DEPTHS, depth) * channels**2 * np.take(KERNELS, kernel) ** 2
    augmentation, optimizer = rng.integers(3, size=n), rng.integers(2, size=n)
    lr, weight_decay, epochs, nuisance = rng.random((4, n))
    columns += [np.eye(3)[augmentation], np.eye(2)[optimizer], np.stack([resolution, lr, weight_decay, epochs, nuisance], axis=1)]
    log_flops = np.log(flops)
    capacity = (log_flops - 18.5) / 0.5
    accuracy = (
        1.5 * np.tanh(capacity)
        + np.array([0.0, 0.8, 0.3])[augmentation]
        + np.array([0.0, 0.5])[optimizer]
        - 6 * (lr - 0.6) ** 2
        - 2 * (weight_decay - 0.3) ** 2
        + 1.5 * epochs * (1 + 0.5 * capacity)
        + 0.3 * nuisance
        + 0.1 * rng.normal(size=n)
    )
    return np.hstack(columns), log_flops, 30 + 3 * accuracy


@pytest.fixture(scope="module")
def data() -> dict[str, np.ndarray]:
    X, _, y = toy_space(N_TRAIN, seed=0)
    X_test, _, y_test = toy_space(500, seed=100)
    X_free, log_flops, _ = toy_space(2000, seed=200)
    return {"X": X, "y": y, "X_test": X_test, "y_test": y_test, "X_free": X_free, "log_flops": log_flops}


@pytest.fixture(scope="module")
def pretrained(data: dict[str, np.ndarray]) -> AccuracyPredictor:
    return AccuracyPredictor(seed=0).pretrain(data["X_free"], data["log_flops"]).fit(data["X"], data["y"])


def test_ranking_metrics() -> None:
    y = np.array([1.0, 2.0, 3.0, 4.0])
    assert ranking_metrics(y, y + 1) == {"kendall_tau": 1.0, "spearman": 1.0, "rmse": 1.0}
    assert ranking_metrics(y, -y)["kendall_tau"] == pytest.approx(-1.0)
    assert np.isnan(ranking_metrics(y, np.zeros(4))["kendall_tau"])


def test_pretrained_predictor_ranks_held_out_points(pretrained: AccuracyPredictor, data: dict[str, np.ndarray]) -> None:
    scores = pretrained.score(data["X_test"], data["y_test"])
    print(f"\nNARS predictor, {N_TRAIN} labelled + 2000 pretraining points: {scores}")
    assert scores["kendall_tau"] > 0.5


def test_pretraining_improves_ranking_at_small_n(pretrained: AccuracyPredictor, data: dict[str, np.ndarray]) -> None:
    with_pretraining, without = [], []
    for seed in range(3):
        X, _, y = toy_space(N_TRAIN, seed=seed)
        predictor = pretrained if seed == 0 else AccuracyPredictor(seed=seed).pretrain(data["X_free"], data["log_flops"]).fit(X, y)
        with_pretraining.append(predictor.score(data["X_test"], data["y_test"])["kendall_tau"])
        without.append(AccuracyPredictor(seed=seed).fit(X, y).score(data["X_test"], data["y_test"])["kendall_tau"])
    print(f"\nKendall tau at N={N_TRAIN} over 3 seeds: with pretraining {np.round(with_pretraining, 3)}, without {np.round(without, 3)}")
    assert min(without) > 0.3
    assert np.mean(with_pretraining) > np.mean(without) + 0.05


def test_ranking_loss_trains(data: dict[str, np.ndarray]) -> None:
    predictor = make_predictor("mlp", loss="huber+rank", seed=0).fit(data["X"], data["y"])
    tau = predictor.score(data["X_test"], data["y_test"])["kendall_tau"]
    print(f"\nhuber+rank loss, no pretraining: tau {tau:.3f}")
    assert tau > 0.3


def test_ensemble_std_grows_away_from_the_data(pretrained: AccuracyPredictor, data: dict[str, np.ndarray]) -> None:
    _, std_train = pretrained.predict(data["X"], return_std=True)
    far = np.random.default_rng(0).uniform(2.0, 3.0, size=data["X"].shape)
    _, std_far = pretrained.predict(far, return_std=True)
    assert (std_train >= 0).all() and (std_far >= 0).all()
    assert std_far.mean() > 2 * std_train.mean()


def test_save_load_round_trip(pretrained: AccuracyPredictor, data: dict[str, np.ndarray], tmp_path) -> None:
    path = tmp_path / "predictor.pt"
    pretrained.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["predictor.pt"]  # no temporary file left behind
    for loaded in (Predictor.load(path), AccuracyPredictor.load(path)):
        assert isinstance(loaded, AccuracyPredictor) and loaded.config == pretrained.config
        for a, b in zip(pretrained.predict(data["X_test"], return_std=True), loaded.predict(data["X_test"], return_std=True)):
            np.testing.assert_array_equal(a, b)
    # the pretrained encoder travels too: refitting the loaded predictor gives the same model again
    refitted = AccuracyPredictor.load(path).fit(data["X"], data["y"])
    np.testing.assert_array_equal(refitted.predict(data["X_test"]), pretrained.predict(data["X_test"]))
    with pytest.raises(ValueError, match="holds a 'mlp' predictor"):
        RandomForestPredictor.load(path)


def test_seeded_fit_is_deterministic_and_leaves_global_rng_alone(data: dict[str, np.ndarray]) -> None:
    def train(seed: int) -> AccuracyPredictor:  # bootstrap: the one random path the fixtures do not take
        return AccuracyPredictor(seed=seed, bootstrap=True, **TINY).pretrain(data["X_free"][:200], data["log_flops"][:200]).fit(data["X"], data["y"])

    rng_state = torch.get_rng_state()
    first = train(3)
    assert torch.equal(torch.get_rng_state(), rng_state)
    second, other = train(3), train(4)
    np.testing.assert_array_equal(first.predict(data["X_test"]), second.predict(data["X_test"]))
    assert not np.array_equal(first.predict(data["X_test"]), other.predict(data["X_test"]))


@pytest.mark.parametrize("kind", ["random_forest", "gp"])
def test_baselines_share_the_api(kind: str, data: dict[str, np.ndarray], tmp_path) -> None:
    predictor = make_predictor(kind, seed=0)
    assert predictor.pretrain(data["X_free"], data["log_flops"]) is predictor  # accepted, no-op
    predictor.fit(data["X"], data["y"])
    mean, std = predictor.predict(data["X_test"], return_std=True)
    assert (std >= 0).all() and std.std() > 0, "the uncertainty differs between points"
    tau = predictor.score(data["X_test"], data["y_test"])["kendall_tau"]
    print(f"\n{kind}: tau {tau:.3f}")
    assert tau > 0.3
    predictor.save(tmp_path / "baseline.pt")
    loaded = Predictor.load(tmp_path / "baseline.pt")
    assert type(loaded) is type(predictor)
    for a, b in zip((mean, std), loaded.predict(data["X_test"], return_std=True)):
        np.testing.assert_array_equal(a, b)


def test_gp_fit_on_few_points_warns_nothing() -> None:
    """A likelihood peak at a kernel bound is expected on 8 points: no warning per refit in a search's log."""
    X, _, y = toy_space(8, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_predictor("gp", seed=0).fit(X, y)


@pytest.mark.parametrize("kind", ["mlp", "random_forest", "gp"])
def test_bad_input_is_named(kind: str) -> None:
    kwargs = TINY if kind == "mlp" else {}
    X, _, y = toy_space(8, seed=0)
    with pytest.raises(ValueError, match="not fitted"):
        make_predictor(kind, **kwargs).predict(X)
    bad_X = X.copy()
    bad_X[3, 2] = np.nan
    with pytest.raises(ValueError, match=r"X contains NaN .*rows \[3\]"):
        make_predictor(kind, **kwargs).fit(bad_X, y)
    bad_y = y.copy()
    bad_y[5] = np.nan
    with pytest.raises(ValueError, match=r"y contains NaN .*\[5\]"):
        make_predictor(kind, **kwargs).fit(X, bad_y)
    with pytest.raises(ValueError, match="y has 7 values but X has 8 rows"):
        make_predictor(kind, **kwargs).fit(X, y[:7])
    with pytest.raises(ValueError, match="at least 2 labelled points, got 1"):
        make_predictor(kind, **kwargs).fit(X[:1], y[:1])
    predictor = make_predictor(kind, **kwargs).fit(X, y)
    with pytest.raises(ValueError, match=f"X has 5 features but the predictor was trained on {X.shape[1]}"):
        predictor.predict(X[:, :5])
    with pytest.raises(ValueError, match="2-D array"):
        predictor.predict(X[0])


def test_configuration_and_file_errors(tmp_path) -> None:
    with pytest.raises(ValueError, match="unknown predictor kind 'svm'"):
        make_predictor("svm")
    with pytest.raises(ValueError, match="activation must be one of"):
        MLPConfig(activation="tanh")
    with pytest.raises(ValueError, match="loss must be one of"):
        AccuracyPredictor(loss="mse")
    X, log_flops, _ = toy_space(8, seed=0)
    with pytest.raises(ValueError, match=r"stats must be \[n\] or \[n, k\] with n = 8"):
        AccuracyPredictor(**TINY).pretrain(X, log_flops[:5])
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a NARS predictor file"):
        Predictor.load(tmp_path / "other.pt")

