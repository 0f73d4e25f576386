"""`TrialSpec`: what every trial of one search shares, built once by the driver and bound to each trial.

One picklable value instead of loose keyword arguments: Ray ships it to trials on any node, and the point ->
detector config and cost contract (`config`, `costs`) is the same code in the driver and in the trial.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from detector.data.paths import DataPaths
from nars.trial.costs import CostSettings

if TYPE_CHECKING:
    from detector.config import DetectorConfig
    from search_spaces.fbnetv3.space import FBNetV3Space
    from search_spaces.point import Point


TrialFn = Callable[..., None]
"""A Ray Tune function trainable taking a `TrialSpec` as `spec` (`nars.tune.trainable.run_trial`, or a stand-in)."""


@dataclass(frozen=True)
class TrialSpec:
    """The space (as its spec), the data, the proxy budget and the cost settings of a search's trials, and where
    and how they train (`threads` torch threads, `device`, training folders under `work_dir`)."""

    space_spec: dict[str, Any]
    paths: DataPaths
    proxy_epochs: int
    costs: CostSettings
    latency_objective: bool
    """Whether latency is an objective: then every trial reports it, not only those a latency constraint timed."""
    threads: int
    device: str
    work_dir: str

    def space(self) -> FBNetV3Space:
        from search_spaces import load_space

        return load_space(self.space_spec)

    def config(self, space: FBNetV3Space, point: Point) -> DetectorConfig:
        """The detector config a trial of `point` trains (`nars.trial.proxy.trial_config`)."""
        from nars.trial.proxy import trial_config

        return trial_config(space, point, self.proxy_epochs)
