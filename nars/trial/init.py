"""Searching from a pretrained checkpoint (`space.base.model.weights`).

With the architecture pinned, every trial fine-tunes from the checkpoint (read once per Ray worker,
`detector.weights.hub.cached_checkpoint`) and `freeze_at` is searched. With the architecture searched,
every trial inherits what its arch can take from the checkpoint (`detector.weights.inherit`, Once-for-All's
rules). `check_weights` loads the checkpoint into the pinned architecture, or into the space's
template when the arch is searched, once before any trial starts: a file that does not fit fails the
search with one line instead of failing every trial, or, worse, training trials whose "pretrained"
layers are partly random.

`init_columns` is what a trial reports beside its AP: `init` (`inherited`, `partial` or `scratch`)
and `inherited_share` (the share of its parameters copied from the checkpoint). They are not
predictor features: both follow from the arch parameters, which are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.errors import CheckpointError
from detector.config import DetectorConfig, config_to_dict, load_config
from detector.weights.inherit import InheritReport, inherit_from

if TYPE_CHECKING:
    from search_spaces.fbnetv3.space import FBNetV3Space

NETWORK_PREFIXES = ("backbone.", "rpn.", "roi_heads.", "proposal_generator.")
"""State-dict keys of the network itself (ours and d2go's), as opposed to bookkeeping buffers."""
NORM_STATISTICS = ("running_mean", "running_var")


def plan_inheritance(config: DetectorConfig) -> InheritReport:
    """What a model of `config` would take from its `model.weights`, from shapes only (a meta-device model)."""
    import torch

    from detector.modeling.model import build_detector

    with torch.device("meta"):
        model = build_detector(config, num_classes=config.model.num_classes or 1, load_weights=False)
    return inherit_from(model, config.model.arch, str(config.model.weights), copy=False)


def init_columns(config: DetectorConfig) -> dict[str, Any]:
    """`init` and `inherited_share` of a trial's model: what it takes from `model.weights` (none: scratch)."""
    if not config.model.weights:
        return {"init": "scratch", "inherited_share": 0.0}
    report = plan_inheritance(config)
    return {"init": report.init, "inherited_share": round(report.inherited_share, 4)}


def check_weights(space: FBNetV3Space) -> None:
    """Load `space.base.model.weights` into the space's pinned architecture (or its template); CheckpointError
    naming the file and what differs when it does not fit (shapes, or network tensors missing on either side).

    Normalisation statistics the model has no place for are not differences: a searched `norm: GN`
    keeps the checkpoint's affine parameters and drops its BN running statistics."""
    from detector.modeling.model import build_detector
    from detector.weights.loading import load_state_dict_into, read_weights

    weights = space.base.model.weights
    if weights is None:
        return
    config: DetectorConfig = space.to_config(space.sample(1)[0])
    inheriting = config.model.weights_fit == "inherit"
    if inheriting:  # a searched arch
        try:
            plan_inheritance(config)  # the file is readable and holds an FBNet arch to inherit from
        except CheckpointError as exc:
            raise CheckpointError(f"space.base.model.weights: {exc}") from None
        if space.template is None:  # a choice of registered archs: any of them may inherit
            return
        data = config_to_dict(config)
        data["model"]["arch"] = space.template.source  # ... and it holds the template the arch parameters vary
        config = load_config(data)
    model = build_detector(config, num_classes=config.model.num_classes or 1, load_weights=False)
    try:
        report = load_state_dict_into(model, read_weights(weights), source=weights)  # no log line: trials log theirs
    except CheckpointError as exc:
        raise CheckpointError(f"space.base.model.weights: {exc}") from None
    unused = [k for k in report.unexpected if k.startswith(NETWORK_PREFIXES) and not k.endswith(NORM_STATISTICS)]
    if report.missing or unused:
        differences = [f"{len(keys)} {what} (e.g. {keys[0]})" for keys, what in (
            (report.missing, "model tensors absent from the file"), (unused, "file tensors with no place in the model")) if keys]
        raise CheckpointError(
            f"space.base.model.weights: {weights} does not match the {'template' if inheriting else 'pinned'} arch "
            f"{_arch_name(config)}: {'; '.join(differences)}"
        )


def _arch_name(config: DetectorConfig) -> str:
    arch = config.model.arch
    return arch if isinstance(arch, str) else "(inline arch of space.base.model.arch)"
