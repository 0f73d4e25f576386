"""`python -m nars.search`: one-line errors, and (slow) the quickstart search end to end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


def run(*args: str, cwd: Path = REPO, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def test_unknown_setting_suggests_the_closest(tmp_path):
    line = one_line_error(run("-m", "nars.search", "--config", "experiments/quickstart_search.yaml", "--output", str(tmp_path / "o"),
                              "--set", "search.num_sample=3"))
    assert "unknown key 'search.num_sample'; did you mean 'num_samples'?" in line


@pytest.mark.parametrize(
    "override, message",
    [
        ("search.proxy_epochs=0", "search.proxy_epochs: got 0; input should be greater than or equal to 1"),
        ("search.objectives=[flops]", "objectives[0] must be an accuracy metric"),
        ("constraints=['flops <> 3']", "malformed constraint 'flops <> 3'"),
        ("search.predictor.kind=svm", "search.predictor.kind: got 'svm'"),
    ],
)
def test_invalid_experiment_values(tmp_path, override, message):
    line = one_line_error(run("-m", "nars.search", "--config", "experiments/quickstart_search.yaml", "--output", str(tmp_path / "o"), "--set", override))
    assert message in line


def test_missing_experiment_file(tmp_path):
    assert "experiment file not found" in one_line_error(run("-m", "nars.search", "--config", str(tmp_path / "none.yaml")))


def test_impossible_constraint_is_named(tmp_path):
    line = one_line_error(run("-m", "nars.search", "--config", "experiments/quickstart_search.yaml", "--output", str(tmp_path / "o"),
                              "--set", "constraints=['flops <= 1e3']"))
    assert "flops <= 1e3 unreachable: smallest flops among" in line


@pytest.mark.slow
def test_quickstart_search_end_to_end_and_winner_trains(tmp_path):
    out = tmp_path / "search"
    result = run("-m", "nars.search", "--config", "experiments/quickstart_search.yaml", "--output", str(out), timeout=1500)
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ("trials.csv", "trials.parquet", "curves.csv", "best_recipe.yaml", "predictor.pt", "search_config.yaml"):
        assert (out / name).is_file(), name
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 8 and set(trials["status"]) <= {"ok", "stopped", "failed"}
    assert (trials["status"] == "ok").sum() >= 6 and trials["flops"].max() <= 3e8
    assert set(pd.read_csv(out / "curves.csv")["epoch"]) == {1, 2, 3, 4, 5}
    recipe = yaml.safe_load((out / "best_recipe.yaml").read_text())
    assert recipe["train"]["epochs"] == 24 and recipe["train"]["warmup_iters"] == 8
    again = one_line_error(run("-m", "nars.search", "--config", "experiments/quickstart_search.yaml", "--output", str(out)))
    assert "already holds a search" in again
    train = run("-m", "detector.train", "--config", str(out / "best_recipe.yaml"), "--data", str(out / "data"),
                "--output", str(tmp_path / "winner"), "--epochs", "1", "--no-progress")
    assert train.returncode == 0, train.stderr[-3000:]
    assert (tmp_path / "winner" / "model_final.pt").is_file()
