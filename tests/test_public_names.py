"""The import paths users wrote before the layout by role still work (lazy package exports)."""

from __future__ import annotations

import importlib

import pytest

PUBLIC = {  # import path -> the module that defines the name now
    "detector.build_detector": "detector.modeling.model",
    "detector.load_config": "detector.config",
    "detector.DetectorConfig": "detector.config",
    "detector.data.CocoDetection": "detector.data.dataset",
    "detector.data.resolve_data_paths": "detector.data.paths",
    "detector.weights.load_weights": "detector.weights.loading",
    "detector.weights.to_d2go_state_dict": "detector.weights.d2go",
    "nars.NARSSearcher": "nars.searchers.nars",
    "nars.load_experiment": "nars.config.experiment",
    "nars.analysis.load_run": "nars.analysis.run",
    "search_spaces.load_space": "search_spaces.load",
    "search_spaces.CostModel": "search_spaces.fbnetv3.cost",
    "search_spaces.parse_constraints": "search_spaces.constraints",
}


@pytest.mark.parametrize("path", sorted(PUBLIC))
def test_a_public_name_imports_from_its_package(path):
    package, _, name = path.rpartition(".")
    value = getattr(importlib.import_module(package), name)
    assert value is getattr(importlib.import_module(PUBLIC[path]), name)
    assert name in importlib.import_module(package).__all__
