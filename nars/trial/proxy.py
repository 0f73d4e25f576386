"""The proxy contract: the config a search trial trains for a point, and what the proxy takes out of the search.

A trial trains its point on the proxy budget: `search.proxy_epochs` epochs, evaluated after every epoch.
A value the proxy sets itself cannot be searched (it would never reach a trial, and the predictor would
learn noise from it), so `proxy_space_spec` excludes such parameters before the space is built, with a
warning when the experiment asked to search one; they keep their base (or `fixed:`) value, which is what
the final run of the winner trains with. Warmup and EMA are searched as shares of the schedule
(`train.warmup_fraction`, `train.ema_horizon`) so that a value measured in a short trial means the same
in the long final run. A `train.warmup_iters` in steps (a base or fixed value) that does not end before the trial
would keep the trial below `train.lr`: the trial scales it to the share of the schedule it has in the final run
(warmup_iters x proxy_epochs / the `final_run_values` epochs, at least 1 step and below the trial's end), with one
warning naming both numbers (`detector.training.solver.fit_warmup`); a warmup that fits, and a fraction (which always
does), trains as configured. The trial's saved config keeps the configured value, the one the final run trains with.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from core.errors import InputWarning
from core.nested import get_path
from detector.config import DetectorConfig

if TYPE_CHECKING:
    from search_spaces.fbnetv3.space import FBNetV3Space

PROXY_FIELDS = {"train.epochs": "every trial trains search.proxy_epochs epochs"}
"""Config fields a trial sets itself, whatever the point says: {field: why}."""


class SpaceWarning(InputWarning):
    """The experiment's space asks for something the search does differently (shown as one `warning:` line)."""


def proxy_space_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The experiment's `space:` with the parameters the proxy overrides excluded."""
    from search_spaces import load_space

    spec = dict(spec)
    space = load_space(spec)
    overridden = {name: field for name in space.names for field in space.writes(name) if field in PROXY_FIELDS}
    if not overridden:
        return spec
    listed = spec.get("parameters") or {}
    for name, field in overridden.items():
        if name in listed:
            warnings.warn(
                f"space.parameters.{name}: not searched, {PROXY_FIELDS[field]}; the final run takes space.base.{field} "
                f"(pin another value with space.fixed.{name})", SpaceWarning, stacklevel=2,
            )
    return {**spec, "exclude": [*(spec.get("exclude") or []), *overridden]}


def warn_shadowed_base(space: FBNetV3Space) -> None:
    """One warning per base value that a searched parameter replaces in every trial."""
    for field, names in space.shadowed_base().items():
        by = " and ".join(f"'{n}'" for n in names)
        warnings.warn(f"space.base.{field} is replaced by the searched parameter {by} in every trial; "
                      f"remove it from base or pin the parameter", SpaceWarning, stacklevel=2)


def warn_saturated_values(space: FBNetV3Space) -> None:
    """One warning per searched parameter whose largest values all act the same (a search would repeat trials)."""
    for name, (limit, values) in space.saturated_values().items():
        listed = ", ".join(map(str, values))
        warnings.warn(f"space.parameters.{name}: {listed} are all at or above the {limit} anchors of the largest input, so they "
                      f"keep every anchor and give the same detector; set high to at most {limit}", SpaceWarning, stacklevel=2)


def trial_config(space: FBNetV3Space, point: Mapping[str, Any], proxy_epochs: int) -> DetectorConfig:
    """The config a trial trains: the point's config on the proxy budget, evaluated after every epoch."""
    config = space.to_config(point)
    return config.model_copy(update={"train": config.train.model_copy(update={"epochs": proxy_epochs, "eval_every": 1})})


def final_run_values(space: FBNetV3Space, point: Mapping[str, Any]) -> dict[str, Any]:
    """The values of the proxy-set fields in the winner's config: set for the final run, never measured in a trial."""
    config = space.to_config(point).model_dump(mode="json")
    return {field: get_path(config, field) for field in PROXY_FIELDS}
