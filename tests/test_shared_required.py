"""Tests that read `../shared` skip in a user's clone and fail where it is expected (CI), with the reason shown."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import shared_required

REPO = Path(__file__).resolve().parents[1]
READS_SHARED = "tests/detector/test_fbnet_archs.py::test_every_d2go_detection_arch_is_registered"  # reads ../shared/reference only


def _pytest_without_shared(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("CI", "REQUIRE_SHARED")}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", READS_SHARED], cwd=REPO,
                          env={**clean, "SHARED_DIR": str(tmp_path / "absent"), **env}, capture_output=True, text=True,
                          timeout=300, check=False)


def test_a_clone_without_shared_skips_with_the_reason(tmp_path: Path) -> None:
    result = _pytest_without_shared(tmp_path)
    assert result.returncode == 0, result.stdout[-2000:]
    assert "1 skipped" in result.stdout and f"reference facts not available: {tmp_path / 'absent' / 'reference'} is absent" in result.stdout


def test_where_shared_is_expected_its_absence_fails(tmp_path: Path) -> None:
    result = _pytest_without_shared(tmp_path, REQUIRE_SHARED="1")
    assert result.returncode == 1 and "1 error" in result.stdout, result.stdout[-2000:]  # a failing fixture: an error at setup
    assert "REQUIRE_SHARED or CI=true says it must be there" in result.stdout


@pytest.mark.parametrize(("env", "required"), [({}, False), ({"REQUIRE_SHARED": "0"}, False), ({"REQUIRE_SHARED": "1"}, True),
                                               ({"CI": "true"}, True), ({"CI": "false"}, False)])
def test_ci_or_require_shared_expect_it(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], required: bool) -> None:
    for name in ("CI", "REQUIRE_SHARED"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert shared_required() is required
