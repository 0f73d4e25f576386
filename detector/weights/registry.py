"""The registry of the original d2go checkpoints by name (`"FBNetV3a-DSMask-C4 COCO"` ...), and the resolution of a
`model.weights` value to a local file: a registered name (downloaded once) or a path."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.errors import CheckpointError
from detector.weights.hub import download


@dataclass(frozen=True)
class PretrainedWeights:
    name: str
    url: str
    arch: str
    sha256: str | None = None
    num_classes: int = 80
    box_ap: float | None = None


# The Faster R-CNN checkpoints of d2go's MODEL_ZOO.md (COCO 2017, 80 classes). No hashes are
# published for them, so a download is checked for completeness and loadability, not for SHA-256.
WEIGHTS: dict[str, PretrainedWeights] = {
    w.name: w
    for w in (
        PretrainedWeights(
            "FBNetV3a-DSMask-C4 COCO",
            "https://mobile-cv.s3-us-west-2.amazonaws.com/d2go/models/250414811/model_0399999.pth",
            "fbnetv3_a_dsmask",
            box_ap=21.06,
        ),
        PretrainedWeights(
            "FBNetV3a-C4 COCO",
            "https://mobile-cv.s3-us-west-2.amazonaws.com/d2go/models/246823121/model_0479999.pth",
            "fbnetv3_a",
            box_ap=22.99,
        ),
    )
}


def resolve_weights(name_or_path: str) -> Path:
    """Registry name -> cached download; anything else must be an existing local file."""
    if name_or_path in WEIGHTS:
        entry = WEIGHTS[name_or_path]
        return download(entry.url, entry.sha256)
    path = Path(name_or_path).expanduser()
    if not path.is_file():
        raise CheckpointError(
            f"model.weights: '{name_or_path}' is neither a registered name ({', '.join(WEIGHTS)}) nor an existing file"
        )
    return path
