"""Shared pytest fixtures. `../shared` (reference facts, raccoon data) exists beside the repo in CI
and on developer machines, not in a user's clone: tests that need it skip with a clear reason there.
Where it is expected (`REQUIRE_SHARED=1`, or `CI=true`; `.ci/run` sets the former when `../shared` exists),
a missing part fails those tests instead, so that CI cannot go green by skipping them.
`SHARED_DIR` points the tests at another copy."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SHARED_DIR") or REPO.parent / "shared")
REFERENCE = SHARED / "reference"
FIXTURES = REFERENCE / "fixtures"
RACCOON = SHARED / "data" / "raccoon"

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
torch.set_num_threads(min(2, os.cpu_count() or 1))


def shared_required() -> bool:
    """Whether a missing `../shared` is a failure (CI, or asked for) rather than a reason to skip (a user's clone)."""
    return os.environ.get("REQUIRE_SHARED", "") not in ("", "0") or os.environ.get("CI", "").lower() == "true"


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        reason = f"{what} not available: {path} is absent (it ships in ../shared beside the repo, not in a clone)"
        if shared_required():
            pytest.fail(f"{reason}; REQUIRE_SHARED or CI=true says it must be there", pytrace=False)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    return _require(REFERENCE, "reference facts")


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return _require(FIXTURES, "original-model numeric fixtures")


@pytest.fixture(scope="session")
def raccoon_dir() -> Path:
    return _require(RACCOON, "raccoon data set")


def write_random_checkpoint(path: Path, model: dict | None = None, seed: int = 0) -> Path:
    """A checkpoint in our format with random weights (3 shape classes), without running the trainer."""
    from detector.modeling.model import build_detector
    from detector.training.checkpoint import save_checkpoint

    torch.manual_seed(seed)
    detector = build_detector({"model": {"arch": "fbnetv3_a_dsmask", "weights": None, "freeze_at": 0, **(model or {})}}, num_classes=3)
    save_checkpoint(
        {
            "model": detector.state_dict(),
            "config": detector.config.model_dump(mode="json"),
            "class_names": ["circle", "square", "triangle"],
            "label_to_category_id": {1: 1, 2: 2, 3: 3},
        },
        path,
    )
    return path


@pytest.fixture(scope="session")
def random_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Random-weight 3-class FBNetV3OD checkpoint (model.weights None), shared by a test session."""
    return write_random_checkpoint(tmp_path_factory.mktemp("ckpt") / "random.pt")
