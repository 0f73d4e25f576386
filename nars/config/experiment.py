"""The experiment YAML of `python -m nars.search`: data, space, constraints and search settings.

```yaml
data: {dir: ../shared/data/raccoon}        # or train_json/train_images/val_json/val_images, or
                                            # synthetic: {num_train: 48, num_val: 16} (generated once)
space: {kind: fbnetv3, base: {...}, fixed: {...}, exclude: [...]}   # see search_spaces/fbnetv3/default_space.yaml
constraints: ["flops <= 1.5e9"]
search: {searcher: nars, num_samples: 16, proxy_epochs: 4, ...}     # `SearchSettings` below
output: runs/raccoon_search
```

Relative paths are resolved against the working directory, like every other CLI path.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, model_validator

from core.errors import ConfigError
from core.overrides import apply_overrides, origin_of
from core.schema import Section, format_validation_error
from core.yaml_io import read_yaml
from detector.data.paths import DataPaths, resolve_data_paths
from detector.deploy.latency import LatencyBackend
from detector.evaluation.metric_names import AP_KEYS
from nars.config.settings import EvolutionSettings, RoundSettings, SearcherName
from search_spaces.constraints import METRICS as COST_METRICS

SYNTHETIC_FOLDER = "data"  # RUN/data: where a search generates `data.synthetic`


class SyntheticData(Section):
    num_train: int = Field(48, ge=2, description="training images of the generated shapes data set")
    num_val: int = Field(16, ge=1, description="validation images")
    num_test: int = Field(0, ge=0, description="held-out test images (`test.json`): never seen by the search, for the final comparison")
    image_size: tuple[int, int] = Field((192, 256), description="[height, width] of every image")
    seed: int = Field(0, description="seed of the generator")


class DataSettings(Section):
    dir: str | None = Field(None, description="data folder: `DIR/images/`, `DIR/train.json`, `DIR/val.json`")
    train_json: str | None = Field(None, description="training annotations (instead of `dir`)")
    train_images: str | None = Field(None, description="training image folder")
    val_json: str | None = Field(None, description="validation annotations")
    val_images: str | None = Field(None, description="validation image folder (default: the training one)")
    synthetic: SyntheticData | None = Field(
        None,
        description="generate a small synthetic COCO data set into `RUN/data` (when neither `dir` nor `train_json` is given)",
    )
    max_train_images: int | None = Field(
        None, ge=1,
        description=(
            "trials train on this many training images, a class-stratified slice seeded by `search.seed` (every class kept "
            "while the slice has room); null = all. The winner's final run trains on all of them"
        ),
    )
    max_val_images: int | None = Field(
        None, ge=1, description="trials are evaluated on this many validation images, sliced like `max_train_images`; null = all",
    )

    @model_validator(mode="after")
    def _one_source(self) -> DataSettings:
        explicit = self.dir or self.train_json
        if not explicit and self.synthetic is None:
            raise ValueError("give data.dir, data.train_json/... or data.synthetic")
        return self

    @property
    def generated(self) -> bool:
        """The synthetic data set, generated into `RUN/data` (neither `dir` nor `train_json` given)."""
        return self.dir is None and self.train_json is None

    def train_flags(self, output_dir: Path) -> str:
        """The `detector.train` flags naming all of this data (trials may train on a slice, the winner's final run
        does not); `output_dir` is the search's run folder, which holds a generated data set."""
        if self.generated:
            return f"--data {shlex.quote(str(output_dir / SYNTHETIC_FOLDER))}"
        flags = {"--data": self.dir, "--train-json": self.train_json, "--train-images": self.train_images,
                 "--val-json": self.val_json, "--val-images": self.val_images}
        return " ".join(f"{flag} {shlex.quote(str(Path(value).resolve()))}" for flag, value in flags.items() if value is not None)


class AshaSettings(Section):
    grace_period: int = Field(1, ge=1, description="epochs every trial trains before ASHA may stop it; <= proxy_epochs")
    reduction_factor: float = Field(2.0, gt=1.0, description="ASHA keeps 1 / reduction_factor of the trials at each rung")


class CalibrationSettings(Section):
    """`--calibrate`: the same candidates trained at each budget of `budgets` and at `full_epochs`, each as
    its own compressed schedule (as a trial trains); the proxy budget is the smallest whose ranking agrees
    with the full one: the lower end of the 90 % bootstrap interval of Kendall tau >= `threshold`."""

    candidates: int = Field(12, ge=5, description="random candidates trained at every budget")
    budgets: list[int] = Field(
        default_factory=lambda: [1, 2, 4], min_length=1,
        description="proxy budgets in epochs to compare, each in 1..full_epochs - 1",
    )
    full_epochs: int = Field(12, ge=2, description="the full budget the rankings are compared with")
    threshold: float = Field(
        0.6, gt=0.0, le=1.0,
        description="a budget is chosen when the lower end of the 90 % bootstrap interval of its Kendall tau reaches this",
    )

    @model_validator(mode="after")
    def _budgets_below_full(self) -> CalibrationSettings:
        if any(not 1 <= b < self.full_epochs for b in self.budgets):
            raise ValueError(f"budgets must lie in 1..{self.full_epochs - 1} (below full_epochs), got {self.budgets}")
        return self


class LatencySettings(Section):
    """`search.latency`: what a `latency_ms` constraint or objective times, measured once per architecture
    on the searching machine and cached by CPU model, threads and backend (`detector.deploy.latency`)."""

    backend: LatencyBackend = Field(
        "torch",
        description=(
            "what is timed: `torch` the folded channels-last copy that `detector.predict` runs; `onnxruntime` / "
            "`onnxruntime-int8` the fp32 / int8 ONNX file of `detector.export`"
        ),
    )
    threads: int = Field(1, ge=1, description="threads a latency measurement runs with")


class SearchSettings(RoundSettings):
    """The `search:` section: the NARS round settings (`nars.config.settings.RoundSettings`) plus the run's."""

    searcher: SearcherName = Field("nars", description=(
        "NARS, or a baseline on the same space: random, Optuna TPE / QMC / GP through Ray's `OptunaSearch`, SMAC3's"
        " random-forest HPO facade, regularized evolution, or local search with restarts"))
    num_samples: int = Field(16, ge=2, description="trials to run")
    objectives: list[str] = Field(
        default_factory=lambda: ["ap"], min_length=1,
        description=(
            "the accuracy metric to maximise (`ap`, `ap50`, `ap75`), then cost objectives to minimise (`flops`, `params`, "
            "`latency_ms`): with costs, candidates are ranked by predicted Pareto rank"
        ),
    )
    proxy_epochs: int = Field(4, ge=1, description="epochs every trial trains (the proxy budget)")
    evolution: EvolutionSettings = Field(default_factory=EvolutionSettings, description="the final, predictor-only evolutionary search")
    asha: AshaSettings | None = Field(None, description="stop trials early with ASHA; null = off")
    calibrate: CalibrationSettings = Field(
        default_factory=CalibrationSettings,
        description="`--calibrate`: choose the proxy budget by rank agreement with a full budget",
    )
    max_concurrent: int = Field(2, ge=1, description="trials running at once")
    cpus_per_trial: float = Field(1.0, gt=0.0, description="CPUs Ray reserves per trial (also its torch threads)")
    gpus_per_trial: float = Field(0.0, ge=0.0, description="GPUs Ray reserves per trial (> 0: trials train on CUDA)")
    max_failures: int = Field(0, ge=0, description="retries of a failed trial before it is recorded as failed")
    latency: LatencySettings = Field(default_factory=LatencySettings, description="how latency is measured")
    seed: int = Field(0, description="everything random in the search derives from it")

    @model_validator(mode="after")
    def _objectives(self) -> SearchSettings:
        accuracy, costs = set(AP_KEYS), set(COST_METRICS)
        first, rest = self.objectives[0], self.objectives[1:]
        if first not in accuracy:
            raise ValueError(f"objectives[0] must be an accuracy metric ({', '.join(sorted(accuracy))}), got '{first}'")
        bad = [o for o in rest if o not in costs]
        if bad:
            raise ValueError(f"further objectives must be costs ({', '.join(sorted(costs))}), got {bad}")
        if self.asha is not None and self.asha.grace_period > self.proxy_epochs:
            raise ValueError(f"asha.grace_period ({self.asha.grace_period}) must be <= proxy_epochs ({self.proxy_epochs})")
        return self

    @property
    def metric(self) -> str:
        return self.objectives[0]

    @property
    def cost_objectives(self) -> list[str]:
        return self.objectives[1:]


class Experiment(Section):
    """An experiment YAML: what `python -m nars.search --config` reads."""

    data: DataSettings = Field(description="the search's data set: `dir`, explicit COCO paths, or `synthetic`")
    space: dict[str, Any] = Field(
        default_factory=lambda: {"kind": "fbnetv3"},
        description="the joint search space; see `search_spaces/fbnetv3/default_space.yaml` for every parameter, `fixed` and `exclude`",
    )
    constraints: list[str] = Field(
        default_factory=list,
        description='cost constraints of the deployed model, e.g. `["flops <= 1.5e9", "params <= 5e6", "latency_ms <= 50"]`',
    )
    search: SearchSettings = Field(default_factory=SearchSettings, description="the search settings")
    output: str | None = Field(None, description="run folder (default: `runs/<config name>`; `--output` wins)")

    def data_paths(self, output_dir: Path) -> DataPaths:
        """The trials' data: the data set (the synthetic one generated into `output_dir/data` when asked), sliced
        to `data.max_*_images` with `search.seed`."""
        d = self.data
        return replace(self._full_data_paths(output_dir), max_train_images=d.max_train_images, max_val_images=d.max_val_images,
                       subset_seed=self.search.seed)

    def _full_data_paths(self, output_dir: Path) -> DataPaths:
        d = self.data
        if d.generated and d.synthetic is not None:
            from detector.data.synthetic import generate_synthetic_coco

            root = output_dir / SYNTHETIC_FOLDER
            if not (root / "train.json").is_file():
                s = d.synthetic
                generate_synthetic_coco(root, num_train=s.num_train, num_val=s.num_val, image_size=s.image_size, seed=s.seed,
                                        num_test=s.num_test)
            return resolve_data_paths(data_dir=root)
        return resolve_data_paths(
            data_dir=d.dir, train_json=d.train_json, train_images=d.train_images, val_json=d.val_json, val_images=d.val_images
        )


def load_experiment(path: str | os.PathLike[str], overrides: list[str] | None = None, spelled: Mapping[str, str] | None = None) -> Experiment:
    """Read an experiment YAML (safe_load), apply `--set key=value` overrides, validate. An invalid value's error
    names where it came from: its `--set` (or the flag `spelled` gives for it) or the file."""
    data = read_yaml(path, "experiment")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: an experiment is a mapping with data, space, constraints, search")
    overrides = overrides or []
    data = apply_overrides(data, overrides)
    try:
        return Experiment.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, Experiment, lambda key: origin_of(key, overrides, str(path), spelled))) from None
