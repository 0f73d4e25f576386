"""The one schema of every search setting: the searcher's rounds, its predictor and the final evolution.

`NARSSearcher` takes `RoundSettings`, `evolve` takes `EvolutionSettings`, and the experiment YAML's
`search:` section (`nars.config.experiment.SearchSettings`) extends `RoundSettings`, so a default is written
once, here, whether the searcher runs from `nars.search`, a benchmark or a script.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from core.schema import Section
from nars.searchers.registry import SEARCHERS

SearcherName = Literal[tuple(SEARCHERS)]  # type: ignore[valid-type]  # the registry's names, read at import
"""The `search.searcher` values: the names of `nars.searchers.registry.SEARCHERS`."""


class PredictorSettings(Section):
    """The accuracy predictor the searcher refits every round and the final stage fits once more."""

    kind: Literal["mlp", "random_forest", "gp"] = Field(
        "mlp",
        description="the accuracy predictor: `mlp` is NARS's pretrained MLP ensemble, `random_forest` and `gp` scikit-learn baselines",
    )
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="keyword arguments of the predictor (for `mlp` the fields of `nars.predictor.MLPConfig`, e.g. `{ensemble_size: 3}`)",
    )
    pretrain_points: int = Field(
        512, ge=0,
        description="unlabelled points whose free statistics (log FLOPs, log params) pretrain the MLP's encoder; 0 = no pretraining",
    )
    pretrain_alpha: float = Field(
        0.1, gt=0.0, le=1.0,
        description=(
            "pretrain on a free statistic only while its Kendall tau with the measured trials has a p-value <= this (1.0: always; see"
            " `nars.predictor.pretraining`)"
        ),
    )


class RoundSettings(Section):
    """How many points each round trains and how its candidates are drawn and judged."""

    initial_points: int = Field(8, ge=2, description=(
        "points of the scrambled-Sobol round 0 (the predictor needs data); for a baseline `search.searcher`, its start"
        " before its model is used: TPE's and GP's startup trials, SMAC's initial design, local search's random points"))
    round_size: int = Field(4, ge=1, description="points trained per later round")
    candidate_pool: int = Field(2048, ge=8, description="candidates the predictor ranks per round; >= round_size")
    exploration: float = Field(
        0.25, ge=0.0, le=1.0,
        description="share of the predicted points chosen by upper confidence bound (the rest: best predicted), held over"
        " the whole search: rounds of 2 at 0.25 explore one point every other round",
    )
    mutation_share: float = Field(
        0.5, ge=0.0, le=1.0,
        description="share of the candidate pool made by mutating and crossing the best trials (the rest: random points)",
    )
    predictor: PredictorSettings = Field(default_factory=PredictorSettings, description="the accuracy predictor")

    @model_validator(mode="after")
    def _pool_holds_a_round(self) -> RoundSettings:
        if self.candidate_pool < self.round_size:
            raise ValueError(f"candidate_pool ({self.candidate_pool}) must be >= round_size ({self.round_size})")
        return self


class EvolutionSettings(Section):
    """The predictor-only evolutionary search that names the winner (`nars.stages.evolution.evolve`)."""

    population: int = Field(128, ge=4, description="points the final evolutionary search keeps")
    generations: int = Field(30, ge=1, description="its generations")
    children_per_generation: int = Field(4096, ge=8, description="children scored by the predictor per generation")
    crossover_prob: float = Field(0.3, ge=0.0, le=1.0, description="probability that a child is a crossover of two parents before mutation")
    max_mutations: int = Field(3, ge=1, description="parameters mutated per child, at most")
