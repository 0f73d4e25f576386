"""`best_recipe.yaml` and the Pareto recipes: a complete detector config with a header saying what the
search measured of it; `write_recipe` writes one, `Recipe.read` reads its header back (for the analysis).
`default_recipe.yaml` (`write_default_recipe`): the recipe without a search, to train beside the winner.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from core.atomic import atomic_write_text
from detector.config import DetectorConfig, config_to_dict
from nars.trial.proxy import final_run_values
from search_spaces.point import Point

if TYPE_CHECKING:
    from search_spaces.fbnetv3.space import FBNetV3Space


def write_recipe(space: FBNetV3Space, point: Point, path: Path, *, predicted: float, measured: float | None, metric: str,
                 proxy_epochs: int, extra: dict[str, float] | None = None, note: str | None = None,
                 data_flags: str = "--data <dataset>") -> None:
    """The point's complete detector config, with a header saying what the trials measured and what they did not
    (and `note`: why this point won); `data_flags` name the search's data in the header's training command."""
    detector_config = space.to_config(point)
    final = ", ".join(f"{name}: {value}" for name, value in final_run_values(space, point).items())
    header = [
        "# Found by `python -m nars.search`: a complete detector config for",
        f"#   python -m detector.train --config <this file> {data_flags} --output <dir>",
        f"# predicted {metric}: {predicted:.2f}"
        + (f"; measured on the proxy budget: {measured:.2f}" if measured is not None else "; this point was not trained during the search"),
        *([f"# {note}"] if note else []),
        *textwrap.wrap(f"searched (varied across the trials, each trained {proxy_epochs} epochs): "
                       + (", ".join(f"{name}={point[name]}" for name in space.names if name in point) or "nothing"),
                       width=110, initial_indent="# ", subsequent_indent="#   "),
        f"# set for this final run, never measured in a trial: {final}; everything else is the space's base config",
    ]
    header += [f"# {name}: {value:.4g}" for name, value in (extra or {}).items()]
    _write(path, header, detector_config)


def write_default_recipe(space: FBNetV3Space, path: Path, *, output: Path, extra: dict[str, float], data_flags: str) -> None:
    """The space's default recipe (`FBNetV3Space.default_config`), with a header saying how to train it into `output`,
    where the report reads it: a winner means something only beside what the user would have trained without a search."""
    header = [
        "# The recipe this search's space starts from: space.base with space.fixed, every searched knob at its base value;",
        "# what you would train without a search. Train it like best_recipe.yaml (same data, same epochs) to compare them:",
        f"#   python -m detector.train --config <this file> {data_flags} --output {output}",
        f"# then python -m nars.analysis {output.parent} shows both trained results side by side",
        *(f"# {name}: {value:.4g}" for name, value in extra.items()),
    ]
    _write(path, header, space.default_config())


def _write(path: Path, header: list[str], config: DetectorConfig) -> None:
    header = [*header, *start_line(config)]
    atomic_write_text(path, "\n".join(header) + "\n" + yaml.safe_dump(config_to_dict(config), sort_keys=False))


def start_line(config: DetectorConfig) -> list[str]:
    """The header line naming the checkpoint the recipe starts from, and what its arch inherits of it."""
    from nars.trial.init import init_columns

    if not config.model.weights:
        return ["# starts from scratch (model.weights: null)"]
    columns = init_columns(config)
    return [(f"# starts from model.weights {config.model.weights!r} (weights_fit: {config.model.weights_fit}): "
             f"init {columns['init']}, {columns['inherited_share']:.1%} of the parameters inherited")]


EVOLVED = "the predictor-driven evolution's best point"
BEST_TRIAL = "the best trial of the search"
"""Why a point won (`nars.stages.final.Winner.choice`); a recipe's header names BEST_TRIAL where a trial won."""


@dataclass
class Recipe:
    """What a recipe's header says about the winner of the final evolutionary search."""

    path: Path
    predicted: float | None
    measured: float | None
    costs: dict[str, float] = field(default_factory=dict)
    choice: str = EVOLVED  # EVOLVED or BEST_TRIAL

    @classmethod
    def read(cls, path: Path) -> Recipe | None:
        """The header of a file `write_recipe` wrote; None when there is no such file."""
        if not path.is_file():
            return None
        predicted = measured = None
        costs: dict[str, float] = {}
        choice = EVOLVED
        for line in path.read_text().splitlines():
            if not line.startswith("#"):
                break
            if BEST_TRIAL in line:
                choice = BEST_TRIAL
            if match := re.match(r"#\s*predicted \w+: ([-+\d.eE]+)", line):
                predicted = float(match.group(1))
                if found := re.search(r"measured on the proxy budget: ([-+\d.eE]+)", line):
                    measured = float(found.group(1))
            elif match := re.match(r"#\s*(flops|params|latency_ms): ([-+\d.eE]+)\s*$", line):
                costs[match.group(1)] = float(match.group(2))
        return cls(path, predicted, measured, costs, choice)
