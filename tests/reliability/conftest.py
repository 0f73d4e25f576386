"""Fixtures of the reliability suite."""

from __future__ import annotations

import pytest

from reliability.bad_input import Assets, make_assets


@pytest.fixture(scope="module")
def assets(tmp_path_factory: pytest.TempPathFactory) -> Assets:
    """Valid inputs shared by the bad-input cases of one test module; a case copies what it breaks."""
    return make_assets(tmp_path_factory.mktemp("bad_input"))
