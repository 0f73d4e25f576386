"""The one config: d2go defaults, YAML round trip, one-line errors naming the key and range."""

from __future__ import annotations

import pytest
import yaml

from detector.config import DetectorConfig, apply_overrides, dump_config, load_config
from detector.errors import ConfigError


def test_defaults_follow_d2go_dsmask_c4():
    m = DetectorConfig().model
    assert (m.arch, m.weights, m.norm, m.pooler_resolution, m.pooler_sampling_ratio, m.pooler_aligned) == (
        "fbnetv3_a_dsmask", "FBNetV3a-DSMask-C4 COCO", "naiveSyncBN", 6, 0, True)
    assert m.rpn.iou_thresholds == (0.3, 0.7) and m.roi_heads.iou_thresholds == (0.5, 0.5)
    assert (m.rpn.pre_nms_topk_train, m.rpn.post_nms_topk_train, m.rpn.pre_nms_topk_test, m.rpn.post_nms_topk_test) == (2000, 2000, 1000, 30)
    assert (m.rpn.batch_size_per_image, m.rpn.positive_fraction, m.rpn.nms_thresh) == (256, 0.5, 0.7)
    assert (m.roi_heads.batch_size_per_image, m.roi_heads.positive_fraction, m.roi_heads.score_thresh) == (512, 0.25, 0.05)
    assert (m.roi_heads.nms_thresh, m.roi_heads.detections_per_img) == (0.5, 100)
    assert m.rpn.anchor_sizes == [32, 64, 96, 128, 160] and m.rpn.aspect_ratios == [0.5, 1.0, 2.0]
    assert m.pixel_mean == (103.530, 116.280, 123.675) and m.pixel_std == (1.0, 1.0, 1.0)
    assert (DetectorConfig().input.min_size, DetectorConfig().input.max_size) == (224, 320)


def test_yaml_round_trip(tmp_path):
    config = load_config({"model": {"arch": "fbnetv3_a", "norm": "GN", "rpn": {"iou_thresholds": [0.2, 0.8]}}, "train": {"lr": 0.01}})
    dump_config(config, tmp_path / "c.yaml")
    assert load_config(tmp_path / "c.yaml") == config
    assert yaml.safe_load((tmp_path / "c.yaml").read_text())["model"]["rpn"]["iou_thresholds"] == [0.2, 0.8]


def test_inline_arch_spec_is_accepted():
    arch = {"trunk": [[["conv_k3", 8, 2, 1]], [["ir_k3", 16, 2, 1, {"expansion": 4}]]], "rpn": [["ir_k3", 16, 1, 1]], "bbox": [{"kind": "ir", "channels": 24, "stride": 2}]}
    assert load_config({"model": {"arch": arch, "freeze_at": 1}}).model.arch == arch


@pytest.mark.parametrize(
    "data, expected",
    [
        ({"model": {"norm": "XN"}}, "model.norm: got 'XN'; input should be 'BN', 'GN', 'SyncBN', 'naiveSyncBN' or 'FrozenBN'"),
        ({"model": {"rpn": {"iou_thresholds": [0.8, 0.7]}}}, "model.rpn.iou_thresholds: lower bound 0.8 must be <= upper bound 0.7"),
        ({"model": {"roi_heads": {"iou_thresholds": [0.5, 1.5]}}}, "model.roi_heads.iou_thresholds: IoU thresholds must lie in [0, 1]"),
        ({"model": {"pooler_resolution": 0}}, "model.pooler_resolution: got 0; input should be greater than or equal to 1"),
        ({"model": {"rpn": {"nms_thres": 0.5}}}, "unknown key 'model.rpn.nms_thres'; did you mean 'nms_thresh'?"),
        ({"modle": {}}, "unknown key 'modle'; did you mean 'model'?"),
        ({"model": {"freeze_at": "two"}}, "model.freeze_at: Input should be a valid integer"),
        ({"model": {"freeze_at": 7}}, "freeze_at: must be in 0..4 (the trunk has 4 stages), got 7"),
        ({"model": {"arch": "fbnetv3_z"}}, "model.arch: unknown arch 'fbnetv3_z'"),
        ({"model": {"num_classes": 0}}, "model.num_classes: got 0; input should be greater than or equal to 1"),
        ({"model": {"rpn": {"post_nms_topk_test": -1}}}, "model.rpn.post_nms_topk_test: got -1; input should be greater than or equal to 1"),
        ({"model": {"rpn": {"anchor_sizes": [32, -1]}}}, "model.rpn.anchor_sizes: all values must be > 0"),
        ({"input": {"min_size": 400, "max_size": 320}}, "input: max_size (320) must be >= min_size (400)"),
        ({"train": {"optimizer": "adam"}}, "train.optimizer: got 'adam'; input should be 'sgd' or 'adamw'"),
        ({"train": {"lr": 0}}, "train.lr: got 0; input should be greater than 0"),
        ({"train": {"lr_steps": [0.9, 0.5]}}, "train.lr_steps: must be increasing fractions"),
        ({"model": {"arch": {"trunk": [], "rpn": [], "bbox": []}}}, "model.arch: arch 'trunk' must be a non-empty list"),
    ],
)
def test_invalid_values_name_the_key_and_range(data, expected):
    with pytest.raises(ConfigError) as info:
        load_config(data)
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


def test_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("model: {arch: [\n")
    with pytest.raises(ConfigError, match="bad.yaml line .*not valid YAML"):
        load_config(tmp_path / "bad.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(tmp_path / "list.yaml")


def test_yaml_loading_is_safe(tmp_path):
    (tmp_path / "evil.yaml").write_text("model: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(tmp_path / "evil.yaml")


def test_overrides_are_typed_and_nested():
    data = apply_overrides({"model": {"norm": "BN"}}, ["model.norm=GN", "model.rpn.iou_thresholds=[0.2, 0.6]", "train.amp=true", "model.weights=null"])
    config = load_config(data)
    assert config.model.norm == "GN" and config.model.rpn.iou_thresholds == (0.2, 0.6) and config.train.amp is True
    assert config.model.weights is None


@pytest.mark.parametrize("text", ["model.norm", "=3", "model..norm=3"])
def test_malformed_override(text):
    with pytest.raises(ConfigError, match="--set expects key=value"):
        apply_overrides({}, [text])


def test_override_into_a_value_is_refused():
    with pytest.raises(ConfigError, match="'norm' is a value, not a section"):
        apply_overrides({"model": {"norm": "BN"}}, ["model.norm.x=1"])
