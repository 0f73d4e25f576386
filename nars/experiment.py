"""The experiment YAML of `python -m nars.search`: data, space, constraints and search settings.

```yaml
data: {dir: ../shared/data/raccoon}        # or train_json/train_images/val_json/val_images, or
                                            # synthetic: {num_train: 48, num_val: 16} (generated once)
space: {kind: fbnetv3, base: {...}, fixed: {...}, exclude: [...]}   # see search_spaces/default_space.yaml
constraints: ["flops <= 1.5e9"]
search: {searcher: nars, num_samples: 16, proxy_epochs: 4, ...}     # `SearchSettings` below
output: runs/raccoon_search
```

Relative paths are resolved against the working directory, like every other CLI path.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, model_validator

from core.errors import ConfigError
from core.overrides import apply_overrides
from core.schema import Section, format_validation_error
from core.yaml_io import read_yaml
from detector.data import DataPaths, resolve_data_paths
from nars.settings import EvolutionSettings, RoundSettings, SearcherName


class SyntheticData(Section):
    num_train: int = Field(48, ge=2)
    num_val: int = Field(16, ge=1)
    image_size: tuple[int, int] = (192, 256)
    seed: int = 0


class DataSettings(Section):
    dir: str | None = None
    train_json: str | None = None
    train_images: str | None = None
    val_json: str | None = None
    val_images: str | None = None
    synthetic: SyntheticData | None = None

    @model_validator(mode="after")
    def _one_source(self) -> DataSettings:
        explicit = self.dir or self.train_json
        if not explicit and self.synthetic is None:
            raise ValueError("give data.dir, data.train_json/... or data.synthetic")
        return self


class AshaSettings(Section):
    grace_period: int = Field(1, ge=1)
    reduction_factor: float = Field(2.0, gt=1.0)


class CalibrationSettings(Section):
    """`--calibrate`: the same candidates trained at each budget of `budgets` and at `full_epochs`, each as
    its own compressed schedule (as a trial trains); the proxy budget is the smallest whose ranking agrees
    with the full one: the lower end of the 90 % bootstrap interval of Kendall tau >= `threshold`."""

    candidates: int = Field(12, ge=5)
    budgets: list[int] = Field(default_factory=lambda: [1, 2, 4], min_length=1)
    full_epochs: int = Field(12, ge=2)
    threshold: float = Field(0.6, gt=0.0, le=1.0)

    @model_validator(mode="after")
    def _budgets_below_full(self) -> CalibrationSettings:
        if any(not 1 <= b < self.full_epochs for b in self.budgets):
            raise ValueError(f"budgets must lie in 1..{self.full_epochs - 1} (below full_epochs), got {self.budgets}")
        return self


class SearchSettings(RoundSettings):
    """The `search:` section: the NARS round settings (`nars.settings.RoundSettings`) plus the run's."""

    searcher: SearcherName = "nars"
    num_samples: int = Field(16, ge=2)
    objectives: list[str] = Field(default_factory=lambda: ["ap"], min_length=1)
    proxy_epochs: int = Field(4, ge=1)
    evolution: EvolutionSettings = Field(default_factory=EvolutionSettings)
    asha: AshaSettings | None = None
    calibrate: CalibrationSettings = Field(default_factory=CalibrationSettings)
    max_concurrent: int = Field(2, ge=1)
    cpus_per_trial: float = Field(1.0, gt=0.0)
    gpus_per_trial: float = Field(0.0, ge=0.0)
    max_failures: int = Field(0, ge=0)
    latency_threads: int = Field(1, ge=1)
    seed: int = 0

    @model_validator(mode="after")
    def _objectives(self) -> SearchSettings:
        accuracy = {"ap", "ap50", "ap75"}
        costs = {"flops", "params", "latency_ms"}
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
    data: DataSettings
    space: dict[str, Any] = Field(default_factory=lambda: {"kind": "fbnetv3"})
    constraints: list[str] = Field(default_factory=list)
    search: SearchSettings = Field(default_factory=SearchSettings)
    output: str | None = None

    def data_paths(self, output_dir: Path) -> DataPaths:
        """Resolve the data set, generating the synthetic one into `output_dir/data` when asked."""
        d = self.data
        if d.dir is None and d.train_json is None and d.synthetic is not None:
            from detector.synthetic import generate_synthetic_coco

            root = output_dir / "data"
            if not (root / "train.json").is_file():
                s = d.synthetic
                generate_synthetic_coco(root, num_train=s.num_train, num_val=s.num_val, image_size=s.image_size, seed=s.seed)
            return resolve_data_paths(data_dir=root)
        return resolve_data_paths(
            data_dir=d.dir, train_json=d.train_json, train_images=d.train_images, val_json=d.val_json, val_images=d.val_images
        )


def load_experiment(path: str | os.PathLike[str], overrides: list[str] | None = None) -> Experiment:
    """Read an experiment YAML (safe_load), apply `--set key=value` overrides, validate."""
    data = read_yaml(path, "experiment")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: an experiment is a mapping with data, space, constraints, search")
    data = apply_overrides(data, overrides or [])
    try:
        return Experiment.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {format_validation_error(exc, Experiment)}") from None
