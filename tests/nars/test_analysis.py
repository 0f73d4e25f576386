"""nars.analysis: trial tables of finished, running and bare-Ray runs; Pareto front, predictor
quality, importance; the report and its PNGs. Data: tests/fixtures/run_small (see its README.txt)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from core.errors import DataError
from helpers.cli import one_line_error
from helpers.cli import run as run_python
from nars.analysis import load_run, write_report
from nars.analysis.__main__ import main as analysis_main
from nars.analysis.report import unique_labels
from nars.analysis.run import Run
from nars.records.tables import (
    CURVE_COLUMNS,
    CURVE_DTYPES,
    TRIAL_COLUMNS,
    TRIAL_DTYPES,
    typed_curves,
    typed_trials,
)

FIXTURE = Path(__file__).parents[1] / "fixtures" / "run_small"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FIGURES = ["best_so_far.png", "pareto.png", "predicted_vs_measured.png", "importance.png", "curves.png", "top_k_values.png"]


@pytest.fixture(scope="module")
def run() -> Run:
    return load_run(FIXTURE)


def copy_fixture(tmp_path: Path, name: str = "run_small") -> Path:
    return Path(shutil.copytree(FIXTURE, tmp_path / name))


def assert_dtypes(frame: pd.DataFrame, dtypes: dict[str, str]) -> None:
    for column, dtype in dtypes.items():
        if dtype == "str":
            assert pd.api.types.is_string_dtype(frame[column]), column
        else:
            assert frame[column].dtype == dtype, (column, frame[column].dtype)


def table_run(rows: list[dict], config: dict | None = None) -> Run:
    """A Run on hand-written trials (no files)."""
    return Run(Path("/hand"), config or {}, typed_trials(pd.DataFrame(rows), "ap"), typed_curves(pd.DataFrame()), Path("/hand"))


def add_failed_trials(folder: Path) -> None:
    """A diverged trial and an infeasible one, as `nars.search` records them; the searcher becomes a baseline."""
    trials = pd.read_csv(folder / "trials.csv", dtype={"trial_id": "str", "error": "str"})
    failed, infeasible = trials.iloc[0].copy(), trials.iloc[1].copy()
    failed.update({"trial_id": "dead0001", "status": "failed", "error": "TrainingError: loss is nan at epoch 2", "ap": np.nan,
                   "ap50": np.nan, "ap75": np.nan, "epochs": 2, "finished_at": trials["finished_at"].max() + 1})
    infeasible.update({"trial_id": "dead0002", "status": "infeasible", "error": "breaks a constraint: not trained", "ap": 0.0,
                       "flops": 4.1e8, "epochs": 0, "finished_at": trials["finished_at"].max() + 2})
    trials = pd.concat([trials, pd.DataFrame([failed, infeasible])], ignore_index=True)
    trials[["round", "predicted", "predicted_std"]] = np.nan  # random search: no rounds, no predictions
    (folder / "trials.csv").write_text(trials.to_csv(index=False))
    config = yaml.safe_load((folder / "search_config.yaml").read_text())
    config["search"]["searcher"] = "random"
    (folder / "search_config.yaml").write_text(yaml.safe_dump(config))


# ---------------------------------------------------------------------- tables


def test_trials_and_curves_have_the_documented_columns_and_types(run):
    params = [c for c in run.trials.columns if c.startswith("param.")]
    assert list(run.trials.columns) == TRIAL_COLUMNS + sorted(params) and len(params) == 62
    assert_dtypes(run.trials, TRIAL_DTYPES)
    assert len(run.trials) == 8 and set(run.trials["status"]) == {"ok"}
    assert list(run.trials["ap"]) == sorted(run.trials["ap"], reverse=True)  # best first
    assert run.trials["param.bboxa_se"].dtype == bool and run.trials["param.bboxa_se_gate"].isna().any()  # conditional
    assert list(run.curves.columns) == CURVE_COLUMNS and len(run.curves) == 40
    assert_dtypes(run.curves, CURVE_DTYPES)
    assert set(run.curves["trial_id"]) == set(run.trials["trial_id"])
    assert (run.metric, run.searcher, run.label) == ("ap", "nars", "nars (run_small)")


def test_in_progress_run_is_read_from_ray_trial_folders(tmp_path, run):
    folder = copy_fixture(tmp_path)
    (folder / "trials.csv").unlink()
    (folder / "curves.csv").unlink()
    with (folder / "ray/search/trial_89b708c9/result.json").open("a") as handle:
        handle.write('{"epoch": 4, "ap": 1.')  # the line Ray is writing right now
    live = load_run(folder)
    assert live.source == folder / "ray" / "search"
    assert list(live.trials.columns[: len(TRIAL_COLUMNS)]) == TRIAL_COLUMNS
    assert_dtypes(live.trials, TRIAL_DTYPES)
    by_id = live.trials.set_index("trial_id")
    assert by_id.loc["d8ed389a", "status"] == "ok" and by_id.loc["89b708c9", "status"] == "stopped"  # 3 of 5 epochs
    assert by_id.loc["89b708c9", "round"] == 2 and by_id.loc["89b708c9", "predicted"] == 3.0
    finished = run.trials.set_index("trial_id").loc["d8ed389a"]
    for column in ("ap", "flops", "params", "epochs", "wall_time_s", "finished_at", "param.trunk3b_width"):
        assert by_id.loc["d8ed389a", column] == finished[column], column
    assert list(live.curves.columns) == CURVE_COLUMNS
    assert live.curves.groupby("trial_id")["epoch"].max().to_dict() == {"d8ed389a": 5, "89b708c9": 3}

    # Ray's experiment snapshot says the unfinished trial still runs: it is not counted as finished
    snapshot = {"trial_data": [[json.dumps({"trial_id": "89b708c9", "status": "RUNNING"}), "{}"],
                               [json.dumps({"trial_id": "d8ed389a", "status": "TERMINATED"}), "{}"]]}
    (folder / "ray/search/experiment_state-2026-11-24_21-15-37.json").write_text(json.dumps(snapshot))
    live = load_run(folder)
    assert live.trials.set_index("trial_id").loc["89b708c9", "status"] == "running"
    assert list(live.best_so_far()["trial_id"]) == ["d8ed389a"]
    text = write_report([live], tmp_path / "report").read_text()
    assert "the search is still running" in text and "Trials: 1 ok, 1 running." in text
    assert "Not computed: 1 measured trial(s)" in text and "importance needs >= 4 trials" in text
    assert sorted(p.name for p in (tmp_path / "report").glob("*.png")) == ["best_so_far.png", "curves.png", "pareto.png"]


def test_bare_ray_storage_path_and_failed_ray_trial(tmp_path):
    storage = copy_fixture(tmp_path) / "ray"
    dead = storage / "search" / "trial_dead0003"
    dead.mkdir()
    (dead / "params.json").write_text(json.dumps({"stem_width": 8, "nars_round": 1}))
    (dead / "error.txt").write_text("Failure # 1 (occurred at 2026-11-24)\nTraceback (most recent call last):\n"
                                    '  File "engine.py", line 3, in train\nTrainingError: loss is nan at epoch 1\n')
    bare = load_run(storage)  # a cluster's --storage path: no search_config.yaml, no trials.csv
    assert (bare.metric, bare.searcher) == ("ap", "unknown")
    by_id = bare.trials.set_index("trial_id")
    assert by_id.loc["dead0003", "status"] == "failed" and by_id.loc["dead0003", "error"] == "TrainingError: loss is nan at epoch 1"
    assert np.isnan(by_id.loc["dead0003", "ap"])
    assert by_id.loc["d8ed389a", "status"] == "ok"  # without a config the budget is the most epochs reached (5)
    assert load_run(storage / "search").trials["trial_id"].tolist() == bare.trials["trial_id"].tolist()


def test_unreadable_inputs_fail_with_one_line(tmp_path, capsys):
    with pytest.raises(DataError, match="run folder not found"):
        load_run(tmp_path / "missing")
    with pytest.raises(DataError, match="no trials.csv and no Ray trial folders"):
        load_run(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        analysis_main([str(tmp_path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


# ---------------------------------------------------------------------- questions


def test_pareto_front_hand_checked(run):
    # fixture (GFLOPs, AP): 0.186/1.98, 0.226/1.73, 0.236/4.78, 0.243/1.37, 0.247/5.12, 0.273/0.29, 0.294/2.70, 0.295/6.01
    assert run.pareto()["trial_id"].tolist() == ["89b708c9", "13ccadf3", "b68bdcfa", "d8ed389a"]
    hand = table_run([
        {"trial_id": "a", "status": "ok", "ap": 10, "flops": 1},
        {"trial_id": "b", "status": "ok", "ap": 20, "flops": 2},
        {"trial_id": "c", "status": "ok", "ap": 15, "flops": 2},       # b is as cheap and more accurate
        {"trial_id": "d", "status": "stopped", "ap": 20, "flops": 3},  # b is cheaper at the same AP
        {"trial_id": "e", "status": "ok", "ap": 30, "flops": 4},
        {"trial_id": "f", "status": "ok", "ap": 40, "flops": None},    # no FLOPs: not comparable
        {"trial_id": "g", "status": "failed", "ap": None, "flops": 0.5},
        {"trial_id": "h", "status": "infeasible", "ap": 50, "flops": 0.5},
    ])
    assert hand.pareto()["trial_id"].tolist() == ["a", "b", "e"]
    assert hand.pareto(x="params").empty  # no params recorded
    with pytest.raises(DataError, match="no column 'latency'"):
        hand.pareto(x="latency")


def test_predictor_quality_per_round_and_pooled(run):
    quality = run.predictor_quality()
    assert quality.columns.tolist() == ["round", "n", "kendall_tau", "spearman", "rmse"]
    assert quality["round"].tolist() == [1, 2] and quality["n"].tolist() == [2, 2]
    assert quality[["kendall_tau", "spearman", "rmse"]].isna().all().all()  # 2 trials per round rank nothing
    pooled = run.predictor_quality(by_round=False).iloc[0]
    # by hand: predicted 4.1 > 3.6 > 3.0 > 2.4, measured 5.12, 1.73, 1.98, 1.37: one discordant pair of six
    assert pooled["n"] == 4 and pooled["kendall_tau"] == pytest.approx(4 / 6) and pooled["spearman"] == pytest.approx(0.8)
    three = table_run([{"trial_id": str(i), "round": 1, "status": "ok", "ap": ap, "predicted": p}
                       for i, (ap, p) in enumerate([(3.0, 1.0), (2.0, 2.0), (1.0, 0.5), (9.0, 9.0)])]
                      + [{"trial_id": "x", "round": 2, "status": "failed", "ap": None, "predicted": 5.0}])
    table = three.predictor_quality()
    assert table["round"].tolist() == [1] and table["n"].tolist() == [4]
    assert table["kendall_tau"].iloc[0] == pytest.approx(4 / 6)


def test_predictor_quality_without_predictions_says_why(tmp_path):
    folder = copy_fixture(tmp_path)
    add_failed_trials(folder)
    quality = load_run(folder).predictor_quality()
    assert quality.empty and quality.columns.tolist() == ["round", "n", "kendall_tau", "spearman", "rmse"]
    assert quality.attrs["why"] == "the 'random' searcher makes no predictions"
    older = copy_fixture(tmp_path, "older")
    trials = pd.read_csv(older / "trials.csv").drop(columns=["predicted", "predicted_std", "finished_at"])
    (older / "trials.csv").write_text(trials.to_csv(index=False))
    quality = load_run(older).predictor_quality()
    assert quality.empty and "recorded before that column existed" in quality.attrs["why"]


def test_importance_handles_bools_strings_and_missing_values(run):
    table = run.importance()
    params = [c for c in run.trials.columns if c.startswith("param.")]
    assert table.columns.tolist() == ["parameter", "importance", "importance_std"]
    assert sorted(table["parameter"]) == sorted(params)
    assert table["importance"].is_monotonic_decreasing and np.isfinite(table["importance"]).all()
    assert table["importance"].iloc[0] > 0 and "permutation importance" in table.attrs["method"]
    few = table_run([{"trial_id": str(i), "status": "ok", "ap": i, "param.x": i} for i in range(3)]).importance()
    assert few.empty and "needs >= 4" in few.attrs["why"]


def test_best_and_best_so_far(run):
    assert run.best(3)["trial_id"].tolist() == ["d8ed389a", "b68bdcfa", "13ccadf3"]
    curve = run.best_so_far()
    assert curve["trial"].tolist() == list(range(1, 9))
    assert curve["trial_id"].tolist() == run.trials.sort_values("finished_at")["trial_id"].tolist()
    assert curve["best"].is_monotonic_increasing and curve["best"].iloc[-1] == run.trials["ap"].max()
    older = table_run([{"trial_id": "b", "round": 1, "status": "ok", "ap": 5.0}, {"trial_id": "a", "round": 0, "status": "failed"},
                       {"trial_id": "c", "round": 0, "status": "ok", "ap": 2.0}])  # no finished_at: by round, then id
    curve = older.best_so_far()
    assert curve["trial_id"].tolist() == ["a", "c", "b"]
    assert curve["best"].tolist()[1:] == [2.0, 5.0] and np.isnan(curve["best"].iloc[0])


def test_winner_is_read_from_the_recipe_header(tmp_path, run):
    assert run.winner() == {"predicted": 6.74, "measured": None, "flops": None, "params": None, "latency_ms": None, "trial_id": None}
    folder = copy_fixture(tmp_path)
    recipe = folder / "best_recipe.yaml"
    text = recipe.read_text().replace("# predicted ap: 6.74; not trained during the search",
                                      "# predicted ap: 5.40; measured on the proxy budget: 5.12")
    recipe.write_text(text)
    winner = load_run(folder).winner()
    assert winner == {"predicted": 5.4, "measured": 5.12, "flops": 246942720.0, "params": winner["params"], "latency_ms": None,
                      "trial_id": "b68bdcfa"}
    assert winner["params"] > 1e5, "the measured trial's params"
    recipe.write_text(text.replace("# predicted ap: 5.40;", "# flops: 2.5e+08\n# predicted ap: 5.40;"))
    assert load_run(folder).winner()["flops"] == 2.5e8


# ---------------------------------------------------------------------- report


def assert_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_SIGNATURE, path
    with Image.open(path) as image:
        image.verify()
        assert image.size[0] >= 400 and image.size[1] >= 250


def test_report_renders_every_plot(tmp_path, run):
    report = write_report([run], tmp_path / "report")
    text = report.read_text()
    for name in FIGURES:
        assert_png(tmp_path / "report" / name)
        assert f"]({name})" in text
    assert sorted(p.name for p in report.parent.glob("*.png")) == sorted(FIGURES)
    for heading in ("## Runs", "### Top 5 trials", "### AP vs FLOPs", "### Predictor quality", "### Parameter importance"):
        assert heading in text
    assert "| 89b708c9 | 0.19 | 1.98 |" in text  # a Pareto front row
    assert "Kendall tau 0.67, Spearman 0.80" in text


def test_report_of_a_run_without_measured_trials(tmp_path):
    dead = tmp_path / "search" / "trial_x1"
    dead.mkdir(parents=True)
    (dead / "params.json").write_text(json.dumps({"stem_width": 8, "nars_round": 0}))
    (dead / "error.txt").write_text("Traceback (most recent call last):\n  File \"x\"\nRuntimeError: CUDA out of memory\n")
    report = write_report([tmp_path], tmp_path / "report")
    text = report.read_text()
    assert "| x1 | 0 | failed | RuntimeError: CUDA out of memory |" in text
    assert "No trial has a measured accuracy yet." in text and "No trial has a measured ap yet" in text
    assert not list(report.parent.glob("*.png"))


def test_runs_with_the_same_label_are_told_apart(tmp_path, run):
    twin = load_run(copy_fixture(tmp_path / "again"))
    assert unique_labels([run, twin]) == ["nars (fixtures/run_small)", "nars (again/run_small)"]


def test_cli_compares_runs_including_one_with_failed_trials(tmp_path, capsys):
    other = copy_fixture(tmp_path / "baseline")
    add_failed_trials(other)
    failed = load_run(other)
    assert failed.trials["status"].value_counts().to_dict() == {"ok": 8, "failed": 1, "infeasible": 1}
    assert failed.trials["round"].isna().all()
    out = tmp_path / "out"
    analysis_main([str(FIXTURE), str(other), "--output", str(out), "--top-k", "3"])
    assert capsys.readouterr().out == f"report: {out / 'report.md'}\n"
    text = (out / "report.md").read_text()
    expected = ["best_so_far.png"] + [f"1_{n}" for n in FIGURES[1:]] + [f"2_{n}" for n in FIGURES[1:] if n != "predicted_vs_measured.png"]
    assert sorted(p.name for p in out.glob("*.png")) == sorted(expected)
    for name in expected:
        assert_png(out / name)
    assert "## nars (run_small)" in text and "## random (run_small)" in text
    assert "| dead0001 | - | failed | TrainingError: loss is nan at epoch 2 |" in text
    assert "Nothing to score: the 'random' searcher makes no predictions." in text
    assert "8 ok, 1 failed, 1 infeasible" in text


def test_cli_in_its_own_process_writes_the_report_and_says_where(tmp_path):
    """`python -m nars.analysis` as a user runs it: the report and every PNG in RUN/report, its path printed; a folder
    that holds no run is one error line, exit status 2."""
    folder = copy_fixture(tmp_path)
    result = run_python("-m", "nars.analysis", str(folder), timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    report = folder / "report" / "report.md"
    assert result.stdout == f"report: {report}\n"
    assert sorted(p.name for p in report.parent.glob("*.png")) == sorted(FIGURES)
    for name in FIGURES:
        assert_png(report.parent / name)
        assert f"]({name})" in report.read_text()
    line = one_line_error(run_python("-m", "nars.analysis", str(tmp_path), timeout=300))
    assert line == f"error: {tmp_path} holds no trials.csv and no Ray trial folders (*/params.json): not a search run, nor its --storage path"


def test_front_is_drawn_against_the_searchs_cost_objective(tmp_path):
    folder = copy_fixture(tmp_path)
    assert load_run(folder).cost_axis == "flops"  # objectives [ap]: FLOPs, as before
    config = yaml.safe_load((folder / "search_config.yaml").read_text())
    config["search"]["objectives"] = ["ap", "latency_ms"]
    (folder / "search_config.yaml").write_text(yaml.safe_dump(config))
    assert load_run(folder).cost_axis == "flops", "no trial recorded a latency: nothing to draw against"
    trials = pd.read_csv(folder / "trials.csv", dtype={"trial_id": "str", "error": "str"})
    trials["latency_ms"] = trials["flops"] / 1e8  # latency ranks like FLOPs here, 1-3 ms
    trials.to_csv(folder / "trials.csv", index=False)
    run = load_run(folder)
    assert run.cost_axis == "latency_ms"
    text = write_report([run], tmp_path / "report").read_text()
    assert "### AP vs latency and the Pareto front" in text and "| latency (ms) |" in text
    assert list(run.pareto("latency_ms")["trial_id"]) == list(run.pareto("flops")["trial_id"])
