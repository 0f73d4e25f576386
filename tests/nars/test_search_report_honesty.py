"""What a search says about how good its result is, on hand-made trial tables (no search runs): the no-signal
warning, each predicted round's promise against its measurement, the winner's trained AP beside the best trial's,
and errors that name where a bad setting came from."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from core.errors import ConfigError, DataError
from core.overrides import origin_of
from nars.analysis import load_run, write_report
from nars.analysis.how_good import comparison, headline, notes, verdict
from nars.config.experiment import DataSettings, load_experiment
from nars.records.tables import typed_trials
from nars.records.trained import read_trained
from nars.records.verdict import coverage_line, no_signal, round_lines
from nars.stages.final import Winner
from nars.stages.summary import print_summary

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests" / "fixtures" / "run_small"
QUICKSTART = REPO / "experiments" / "quickstart_search.yaml"
NO_SIGNAL_HINT = "the trials carry no signal; train longer (search.proxy_epochs) or use more data"


def trials(rows: list[tuple[str, int, str, float | None, float | None]]) -> pd.DataFrame:
    """(trial_id, round, status, ap, predicted) rows as `nars.search` tables them."""
    frame = pd.DataFrame(rows, columns=["trial_id", "round", "status", "ap", "predicted"])
    return typed_trials(frame.assign(flops=2.5e8, params=1.7e6, epochs=5, wall_time_s=60.0), "ap")


# round 0 (the start): best 5.40. Round 1 promised 6.20 on average and measured 3.10; round 2: 5.00 and 3.50, one beat 5.40
TABLE = trials([("a", 0, "ok", 5.4, None), ("b", 0, "ok", 2.0, None), ("f", 0, "failed", None, None),
                ("c", 1, "ok", 3.0, 6.0), ("d", 1, "ok", 3.2, 6.4), ("e", 2, "ok", 6.0, 5.5), ("g", 2, "ok", 1.0, 4.5)])


@pytest.mark.parametrize(("values", "shown"), [([0.0, 0.0, 0.0], "0.00"), ([2.5, 2.5], "2.50"), ([0.001, 0.004, 0.0], "0.00")])
def test_no_signal_when_every_measured_trial_scored_the_same(values, shown):
    table = trials([(str(i), 0, "ok", v, None) for i, v in enumerate(values)] + [("x", 1, "failed", None, 3.0)])
    assert no_signal(table, "ap") == f"all {len(values)} trials measured {shown} AP: {NO_SIGNAL_HINT}"


@pytest.mark.parametrize("values", [[0.0, 0.0, 0.05], [4.0, 2.0], [0.0]])
def test_no_warning_when_trials_differ_or_one_was_measured(values):
    assert no_signal(trials([(str(i), 0, "ok", v, None) for i, v in enumerate(values)]), "ap") is None


def winner(predicted: float, measured: float | None) -> Winner:
    return Winner({}, predicted, measured, None, [], [], {}, 1000.0, "off")


def test_summary_warns_instead_of_naming_a_winner_and_gives_the_real_data(capsys, tmp_path):
    zeros = trials([(str(i), 0, "ok", 0.0, None) for i in range(8)])
    print_summary(zeros, winner(0.03, None), "ap", tmp_path, 60.0, "--data /data/cards")
    out = capsys.readouterr().out
    assert f"warning: all 8 trials measured 0.00 AP: {NO_SIGNAL_HINT}" in out
    assert "\nwinner:" not in out and "names no winner" in out
    assert f"--config {tmp_path / 'best_recipe.yaml'} --data /data/cards --output {tmp_path / 'final'}" in out
    assert f"--config {tmp_path / 'default_recipe.yaml'} --data /data/cards --output {tmp_path / 'default'}" in out
    assert "<dataset>" not in out and f"tensorboard --logdir {tmp_path / 'trials'}" in out

    print_summary(TABLE, winner(5.2, 6.0), "ap", tmp_path, 60.0, "--data /data/cards")
    out = capsys.readouterr().out
    assert "warning" not in out and "predicted ap 5.20, measured 6.00 on the proxy budget" in out
    assert "round 1 (2 trials): predicted 6.20 AP on average, measured 3.10" in out


def test_coverage_says_how_often_the_predicted_std_held_the_measurement():
    # c: 6.0 +- 2.0 holds 3.0 (|3.0 - 6.0| = 3.0 > 2.0: no); d: 6.4 +- 3.5 holds 3.2 (yes); e: 5.5 +- 0.5 holds 6.0 (yes);
    # g: 4.5 +- 1.0 holds 1.0 (no)
    table = TABLE.assign(predicted_std=TABLE["trial_id"].map({"c": 2.0, "d": 3.5, "e": 0.5, "g": 1.0}))
    assert coverage_line(table, "ap") == ("+-1 predicted std held the measurement of 2 of 4 predicted trials (50%; "
                                          "a calibrated std holds about 68%)")
    assert coverage_line(TABLE.assign(predicted_std=None), "ap") is None  # older runs: no std


def test_round_lines_state_predicted_against_measured():
    assert round_lines(TABLE, "ap") == [
        "round 1 (2 trials): predicted 6.20 AP on average, measured 3.10 (best 3.20); none beat the best start trial (round 0: 5.40)",
        "round 2 (2 trials): predicted 5.00 AP on average, measured 3.50 (best 6.00); 1 of 2 beat the best start trial (round 0: 5.40)",
    ]
    assert round_lines(TABLE[TABLE["round"] == 0], "ap") == []  # nothing predicted


def copy_run(tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURE, tmp_path / "run"))


def eval_report(path: Path, ap: float, split: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"checkpoint": str(path.parent / "model_final.pt"), "split": split, "num_images": 16, "ap": ap}))
    return path


def test_report_names_the_trained_winner_beside_the_best_trial(tmp_path):
    folder = copy_run(tmp_path)
    eval_report(folder / "final" / "eval_val.json", 11.3, "val")
    (folder / "final" / "metrics.jsonl").write_text("".join(json.dumps({"epoch": e, "ap": 1.0}) + "\n" for e in (1, 2, 24)))
    text = write_report([folder], tmp_path / "report").read_text()
    assert ("| winner (best_recipe.yaml) after its final training | 11.30 | val split, 16 images, after 24 epochs of training "
            "(eval_val.json); these images also ranked the trials: optimistic |") in text
    assert "| best trial d8ed389a | 6.01 | the search's val split, after 5 epochs (the proxy budget) |" in text
    assert "| winner, predicted | 6.74 | not measured: the final predictor's estimate |" in text
    assert "| winner (best_recipe.yaml) after its final training | - | not trained yet" not in text and "it flatters the winner" in text
    assert (f"The default recipe is not trained yet: `python -m detector.train --config {folder.resolve() / 'default_recipe.yaml'} "
            f"--data {folder.resolve() / 'data'} --output {folder.resolve() / 'default'}`") in text
    assert "- round 1 (2 trials): predicted " in text  # the per-round lines, before the pooled Kendall tau


def test_report_says_not_trained_with_the_command(tmp_path):
    run = load_run(copy_run(tmp_path))
    assert comparison(run).iloc[0].tolist()[1:] == [pytest.approx(float("nan"), nan_ok=True), "not trained yet"]
    note = notes(run)[0]
    assert note.startswith("The winner is not trained yet: `python -m detector.train --config ")
    assert f"--data {run.path / 'data'} --output {run.path / 'final'}`" in note
    (run.path / "final").mkdir()  # a final training still running: said in the report, not an error
    assert notes(load_run(run.path))[0] == (f"No result of the winner's final training yet: {run.path / 'final'} holds no eval_*.json "
                                            "and no evaluated epoch in metrics.jsonl (still training, or trained without validation "
                                            "data: python -m detector.evaluate measures it).")


def test_trained_results_prefer_the_held_out_split_and_say_what_is_missing(tmp_path):
    folder = tmp_path / "train"
    folder.mkdir()
    with pytest.raises(DataError, match="holds no eval_\\*.json and no evaluated epoch"):
        read_trained(folder, "ap")
    (folder / "metrics.jsonl").write_text('{"epoch": 1, "ap": 2.0}\n{"epoch": 2, "ap": 3.5}\n{"epoch": 3, "loss": 1.0}\n')
    last = read_trained(folder, "ap")
    assert (last.value, last.split, last.epochs, last.source.name) == (3.5, "val", 2, "metrics.jsonl")
    eval_report(folder / "eval_val.json", 11.3, "val")
    eval_report(folder / "eval_test.json", 9.8, "test")
    held_out = read_trained(folder, "ap")
    assert (held_out.value, held_out.split, held_out.optimistic) == (9.8, "test", False)
    run = load_run(copy_run(tmp_path), trained=folder, default=eval_report(tmp_path / "default.json", 7.0, "test"))
    assert headline(run)[0] == ("winner (best_recipe.yaml) after its final training: 9.80 AP, test split, 16 images, "
                                "after 3 epochs of training (eval_test.json)")
    assert headline(run)[-1] == "default recipe (default_recipe.yaml): 7.00 AP, test split, 16 images (default.json)"
    assert notes(run) == [("The winner and the default recipe were not measured alike (test split, 16 images, after 3 epochs of "
                           "training (eval_test.json) against test split, 16 images (default.json)): compare them on the same "
                           "split after the same epochs.")]


def test_both_trainings_in_the_run_folder_are_compared_without_flags(tmp_path, capsys):
    from nars.analysis.__main__ import main

    folder = copy_run(tmp_path)
    for name, ap in (("final", 9.8), ("default", 7.25)):
        eval_report(folder / name / "eval_test.json", ap, "test")
        (folder / name / "metrics.jsonl").write_text("".join(json.dumps({"epoch": e, "ap": 1.0}) + "\n" for e in (1, 24)))
    main([str(folder)])
    out = capsys.readouterr().out.splitlines()
    assert out[1:] == ["winner (best_recipe.yaml) after its final training: 9.80 AP, test split, 16 images, after 24 epochs of "
                       "training (eval_test.json)",
                       "best trial d8ed389a: 6.01 AP, the search's val split, after 5 epochs (the proxy budget)",
                       "winner, predicted: 6.74 AP, not measured: the final predictor's estimate",
                       "default recipe (default_recipe.yaml): 7.25 AP, test split, 16 images, after 24 epochs of training "
                       "(eval_test.json)",
                       "verdict: the winner measured 2.55 AP above the default recipe (test split, 16 images, one training each)"]
    # measured alike, on images that chose nothing: the verdict is all there is to add
    assert notes(load_run(folder)) == ["Verdict: the winner measured 2.55 AP above the default recipe (test split, 16 images, "
                                       "one training each)."]
    eval_report(folder / "default" / "eval_test.json", 12.0, "test")
    assert verdict(load_run(folder)) == ("verdict: the winner measured 2.20 AP below the default recipe: the search did not pay "
                                         "off here (test split, 16 images, one training each)")
    (folder / "default" / "eval_test.json").unlink()
    (folder / "default" / "metrics.jsonl").write_text("")  # still training: said, not an error
    assert notes(load_run(folder)) == [f"No result of the default recipe's training yet: {folder.resolve() / 'default'} holds no "
                                       "eval_*.json and no evaluated epoch in metrics.jsonl (still training, or trained without "
                                       "validation data: python -m detector.evaluate measures it)."]


def test_set_errors_name_the_set_and_file_errors_the_file(tmp_path):
    with pytest.raises(ConfigError) as error:
        load_experiment(QUICKSTART, ["search.num_sample=4"])
    assert str(error.value) == "--set search.num_sample=4: unknown key 'search.num_sample'; did you mean 'num_samples'?"
    with pytest.raises(ConfigError) as error:
        load_experiment(QUICKSTART, ["search.num_samples=1"], {"search.num_samples=1": "--num-samples 1"})
    assert str(error.value).startswith("--num-samples 1: search.num_samples: got 1;")
    bad = tmp_path / "bad.yaml"
    bad.write_text(QUICKSTART.read_text().replace("proxy_epochs: 5", "proxy_epochs: 0"))
    with pytest.raises(ConfigError) as error:
        load_experiment(bad, ["search.num_samples=4"])
    assert str(error.value).startswith(f"{bad}: search.proxy_epochs: got 0;")
    # a section's own check failed: the file and the --set that wrote inside it
    assert origin_of("search", ["search.asha.grace_period=9", "data.dir=x"], "e.yaml") == "e.yaml with --set search.asha.grace_period=9"
    assert origin_of("search.asha.grace_period", ["search.asha={grace_period: 9}"], "e.yaml") == "--set search.asha={grace_period: 9}"


def test_cli_set_error_is_one_line_naming_the_set(capsys):
    from nars.search import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--config", str(QUICKSTART), "--output", "/nonexistent/o", "--set", "search.num_sample=4"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == "error: --set search.num_sample=4: unknown key 'search.num_sample'; did you mean 'num_samples'?\n"


def test_train_flags_name_the_data_the_search_used(tmp_path):
    assert DataSettings(synthetic={}).train_flags(tmp_path) == f"--data {tmp_path / 'data'}"
    assert DataSettings(dir=str(tmp_path / "cards")).train_flags(tmp_path) == f"--data {tmp_path / 'cards'}"
    explicit = DataSettings(train_json=str(tmp_path / "a b.json"), train_images=str(tmp_path))
    assert explicit.train_flags(tmp_path) == f"--train-json '{tmp_path / 'a b.json'}' --train-images {tmp_path}"
