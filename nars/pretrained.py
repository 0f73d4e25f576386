"""Searching from a pretrained checkpoint (`space.base.model.weights` with the architecture pinned).

Every trial then fine-tunes from the checkpoint (read once per Ray worker, `detector.weights.cached_checkpoint`)
and `freeze_at` is searched. `check_weights` loads the checkpoint into the pinned architecture once, before
any trial starts, so that a file that does not fit fails the search with one line instead of failing every
trial, or, worse, training trials whose "pretrained" layers are partly random.

`init_label` is what a trial reports as its `init` column. It is not a predictor feature: the weights
are part of the space's base config, so every trial of one search shares them, and a constant feature
tells the predictor nothing.
"""

from __future__ import annotations

from typing import Any

from core.errors import CheckpointError
from detector.config import DetectorConfig

NETWORK_PREFIXES = ("backbone.", "rpn.", "roi_heads.", "proposal_generator.")
"""State-dict keys of the network itself (ours and d2go's), as opposed to bookkeeping buffers."""
NORM_STATISTICS = ("running_mean", "running_var")


def init_label(config: DetectorConfig) -> str:
    """`pretrained` when the trial's model starts from `model.weights`, else `scratch`."""
    return "pretrained" if config.model.weights else "scratch"


def check_weights(space: Any) -> None:
    """Load `space.base.model.weights` into the space's pinned architecture; CheckpointError naming the
    file and what differs when it does not fit (shapes, or network tensors missing on either side).

    Normalisation statistics the model has no place for are not differences: a searched `norm: GN`
    keeps the checkpoint's affine parameters and drops its BN running statistics."""
    from detector.model import build_detector
    from detector.weights import load_state_dict_into, read_weights

    weights = space.base.model.weights
    if weights is None:
        return
    config: DetectorConfig = space.to_config(space.sample(1)[0])  # the arch is pinned: every point has this one
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
            f"space.base.model.weights: {weights} does not match the pinned arch {_arch_name(config)}: {'; '.join(differences)}"
        )


def _arch_name(config: DetectorConfig) -> str:
    arch = config.model.arch
    return arch if isinstance(arch, str) else "(inline arch of space.base.model.arch)"
