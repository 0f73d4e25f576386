"""`python -m nars.search`: one-line errors, and (slow) the quickstart search end to end."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from helpers.cli import one_line_error, run

REPO = Path(__file__).resolve().parents[2]


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
        ("search.asha={grace_period: 9}", "asha.grace_period (9) must be <= proxy_epochs (5)"),
    ],
)
def test_invalid_experiment_values(tmp_path, override, message):
    line = one_line_error(run("-m", "nars.search", "--config", "experiments/quickstart_search.yaml", "--output", str(tmp_path / "o"), "--set", override))
    assert message in line


def test_searcher_and_resource_flags_reach_the_experiment():
    """`--searcher`, `--num-samples`, `--cpus-per-trial`, `--gpus-per-trial` become the search settings they name (values
    other than the experiment's own: nars, 8 trials, 1 CPU, 0 GPUs)."""
    from nars.config.experiment import load_experiment
    from nars.search import _cli_overrides, parse_args

    args = parse_args(["--config", "experiments/quickstart_search.yaml", "--searcher", "local", "--num-samples", "5",
                       "--cpus-per-trial", "0.5", "--gpus-per-trial", "1"])
    search = load_experiment(REPO / args.config, _cli_overrides(args)).search
    assert (search.searcher, search.num_samples, search.cpus_per_trial, search.gpus_per_trial) == ("local", 5, 0.5, 1.0)


@pytest.mark.parametrize(("flags", "message"), [
    (["--num-samples", "1"], "search.num_samples: got 1; input should be greater than or equal to 2"),
    (["--num-samples", "x"], "argument --num-samples: invalid int value: 'x'"),
    (["--searcher", "foo"], "argument --searcher: invalid choice: 'foo' (choose from 'nars', 'random',"),
])
def test_invalid_searcher_and_num_samples_flags(tmp_path, capsys, flags, message):
    """In this process (`main` is what `python -m nars.search` runs; the tests above run that entry point): one line."""
    from nars.search import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--config", str(REPO / "experiments" / "quickstart_search.yaml"), "--output", str(tmp_path / "o"), *flags])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
    assert message in err and not (tmp_path / "o").exists()


def test_missing_experiment_file(tmp_path):
    assert "experiment file not found" in one_line_error(run("-m", "nars.search", "--config", str(tmp_path / "none.yaml")))


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


SMALL = ["data.synthetic.num_train=8", "data.synthetic.num_val=4", "search.num_samples=4", "search.initial_points=2", "search.round_size=2",
         "search.proxy_epochs=1", "search.calibrate.candidates=5", "search.calibrate.budgets=[1]", "search.calibrate.full_epochs=2", "search.objectives=[ap,flops]",
         "search.evolution.population=8", "search.evolution.generations=2", "search.evolution.children_per_generation=64",
         "search.predictor.pretrain_points=8"]


def _epochs_trained(out: Path) -> dict[str, int]:
    """Epoch lines each trial's training wrote: grows whenever a trial trains again."""
    return {d.name: len((d / "metrics.jsonl").read_text().splitlines()) for d in (out / "trials").iterdir()}


def test_small_calibrated_multi_objective_search_then_resume_trains_nothing_again(tmp_path):
    out = tmp_path / "search"
    storage = f"file://{tmp_path / 'store'}"  # a URI, as a bucket would be given; Ray resolves it
    args = ["-m", "nars.search", "--config", "experiments/quickstart_search.yaml", "--output", str(out), "--storage", storage,
            "--calibrate", "--set", *SMALL]
    first = run(*args)
    assert first.returncode == 0, first.stderr[-3000:]
    assert {p.name for p in (tmp_path / "store").iterdir()} == {"calibration_1", "calibration_2", "search"} and not (out / "ray").exists()
    calibration = json.loads((out / "calibration.json").read_text())
    assert set(calibration["budgets"]) == {"1"} and calibration["candidates"] == 5
    low, high = calibration["budgets"]["1"]["interval_90"]
    assert low <= calibration["budgets"]["1"]["kendall_tau"] <= high or math.isnan(low)
    assert calibration["proxy_epochs"] == (1 if low >= calibration["threshold"] else 2)
    assert f"proxy budget {calibration['proxy_epochs']} epochs" in first.stdout
    # Ray's banner named its temporary session folder; the search names the run's own folders and real data instead
    assert "/session_" not in first.stdout and f"Ray Tune's state and results: {storage}/search;" in first.stdout
    assert f"Ray's own logs (local Ray): {out / 'ray_logs'}" in first.stdout  # kept there, out of Ray's temporary folder
    assert [p.name for p in (out / "ray_logs").iterdir()][0].startswith("session_") and any((out / "ray_logs").rglob("raylet*"))
    assert f"--data {out / 'data'} --output {out / 'final'}" in first.stdout

    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 4 and set(trials["round"]) == {0, 1}
    assert trials["predicted"].notna().tolist() == (trials["round"] > 0).tolist(), "round 1 trials carry their prediction"
    assert set(pd.read_csv(out / "curves.csv")["epoch"]) <= set(range(1, calibration["proxy_epochs"] + 1))
    recipes = sorted((out / "pareto_recipes").glob("recipe_*.yaml"))
    assert recipes and (out / "pareto_recipes" / "pareto_front.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    front = [float(re.search(r"# flops: (\S+)", r.read_text())[1]) for r in recipes]
    assert all(f <= 3e8 for f in front), "every point of the front meets the constraint"
    assert "# flops:" in (out / "best_recipe.yaml").read_text()
    default = yaml.safe_load((out / "default_recipe.yaml").read_text())  # the recipe without a search, to train beside the winner
    assert default["train"]["lr"] == 0.02 and default["train"]["epochs"] == 24  # space.base's lr (searched), space.fixed's epochs
    assert f"--config {out / 'default_recipe.yaml'} --data {out / 'data'} --output {out / 'default'}" in first.stdout
    assert (out / "report" / "report.md").is_file() and (out / "report" / "pareto.png").is_file()

    trained = _epochs_trained(out)
    assert len(trained) == 4 + 2 * 5  # search trials + calibration candidates at 1 and at 2 epochs
    assert {p.name for p in out.glob("ray_state_*.json")} == {"ray_state_calibration_1.json", "ray_state_calibration_2.json",
                                                               "ray_state_search.json"}
    (cut,) = (tmp_path / "store" / "search").glob("experiment_state-*.json")
    cut.write_bytes(b"")  # as a kill during Ray's write of its experiment state leaves it
    again = run(*args[:-len(SMALL) - 1], "--resume", "--set", *SMALL)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"{cut.name} cut short by a kill while Ray wrote it: resuming from the state snapshot of" in again.stdout
    assert _epochs_trained(out) == trained, "a resumed finished search trains nothing again"
    resumed = pd.read_csv(out / "trials.csv")
    pd.testing.assert_frame_equal(resumed.drop(columns="finished_at"), trials.drop(columns="finished_at"))
    elsewhere = one_line_error(run("-m", "nars.search", "--config", "experiments/quickstart_search.yaml", "--output", str(out),
                                   "--storage", str(tmp_path / "other"), "--resume", "--calibrate", "--set", *SMALL))
    assert f"started with Ray storage {storage}, now it would be {tmp_path / 'other'}" in elsewhere
