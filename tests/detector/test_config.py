"""The one config: d2go defaults, YAML round trip, one-line errors naming the key and range."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from core.errors import ConfigError
from core.overrides import apply_overrides
from detector.config import DetectorConfig, config_to_dict, dump_config, load_config


def _reference_table(reference_dir: Path) -> dict[str, list[str]]:
    """Every `| key | value | note |` row of the d2go config facts: key -> [value, note], markup stripped."""
    rows = {}
    for line in (reference_dir / "d2go_config_facts.md").read_text().splitlines():
        cells = [c.strip().replace("**", "").replace("`", "") for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) >= 2 and not set(cells[0]) <= {"-", " "}:
            rows[cells[0]] = cells[1:]
    return rows


def _parts(value: str) -> list:
    """'256 / 0.5' -> [256, 0.5]; '[0.3, 0.7] / [0, -1, 1]' -> [[0.3, 0.7], [0, -1, 1]] (each part read as YAML)."""
    return [_scalar(yaml.safe_load(part.split(" (")[0])) for part in value.split(" / ")]


def _scalar(value):
    """YAML 1.1 reads '1e-4' (no dot) as a string: take it as the number it is."""
    try:
        return float(value) if isinstance(value, str) else value
    except ValueError:
        return value


# reference key -> (our config fields, in the order of the reference's " / " parts); where our default
# differs on purpose (lr, epochs, warmup length, EMA, freeze_at, weights) the README says why
AGREES_WITH_D2GO = {
    "FBNET_V2.NORM": ["model.norm"],
    "PIXEL_MEAN / PIXEL_STD": ["model.pixel_mean", "model.pixel_std"],
    "RPN.IOU_THRESHOLDS / IOU_LABELS": ["model.rpn.iou_thresholds", None],
    "RPN.BATCH_SIZE_PER_IMAGE / POSITIVE_FRACTION": ["model.rpn.batch_size_per_image", "model.rpn.positive_fraction"],
    "RPN.PRE_NMS_TOPK_TRAIN / POST_NMS_TOPK_TRAIN": ["model.rpn.pre_nms_topk_train", "model.rpn.post_nms_topk_train"],
    "RPN.PRE_NMS_TOPK_TEST / POST_NMS_TOPK_TEST": ["model.rpn.pre_nms_topk_test", "model.rpn.post_nms_topk_test"],
    "RPN.NMS_THRESH": ["model.rpn.nms_thresh"],
    "ROI_HEADS.IOU_THRESHOLDS / IOU_LABELS": ["model.roi_heads.iou_thresholds", None],
    "ROI_HEADS.BATCH_SIZE_PER_IMAGE / POSITIVE_FRACTION": ["model.roi_heads.batch_size_per_image", "model.roi_heads.positive_fraction"],
    "ROI_HEADS.SCORE_THRESH_TEST / NMS_THRESH_TEST": ["model.roi_heads.score_thresh", "model.roi_heads.nms_thresh"],
    "TEST.DETECTIONS_PER_IMAGE": ["model.roi_heads.detections_per_img"],
    "ROI_BOX_HEAD.POOLER_TYPE / RESOLUTION / SAMPLING_RATIO": ["model.pooler_aligned", "model.pooler_resolution", "model.pooler_sampling_ratio"],
    "INPUT.MIN_SIZE_TEST / MAX_SIZE_TEST": ["input.min_size", "input.max_size"],
    "SOLVER.OPTIMIZER (d2go default)": ["train.optimizer"],
    "SOLVER.WEIGHT_DECAY / WEIGHT_DECAY_NORM / WEIGHT_DECAY_BIAS": ["train.weight_decay", None, None],
    "SOLVER.WARMUP_METHOD / FACTOR / ITERS": [None, "train.warmup_factor", None],
}


def _ours(data: dict, field: str):
    for part in field.split("."):
        data = data[part]
    return data


def test_defaults_agree_with_the_d2go_reference_facts(reference_dir: Path):
    reference = _reference_table(reference_dir)
    ours = config_to_dict(DetectorConfig())
    for key, fields in AGREES_WITH_D2GO.items():
        parts = _parts(reference[key][0])
        assert len(parts) == len(fields), key
        for field, expected in zip(fields, parts):
            if field is None:
                continue
            if key.startswith("ROI_BOX_HEAD.POOLER_TYPE") and field == "model.pooler_aligned":
                expected = expected == "ROIAlignV2"  # ROIAlignV2 is RoIAlign with aligned=True
            if field == "model.roi_heads.iou_thresholds":
                expected = expected * 2  # one threshold: lower bound = upper bound, nothing ignored
            got = _ours(ours, field)
            assert got == pytest.approx(expected), f"{field}: ours {got}, d2go {key} = {reference[key][0]}"
    anchors = re.search(r"SIZES \[\[([^]]*)\]\], ASPECT_RATIOS \[\[([^]]*)\]\]", reference["ANCHOR_GENERATOR"][0])
    assert ours["model"]["rpn"]["anchor_sizes"] == yaml.safe_load(f"[{anchors[1]}]")
    assert ours["model"]["rpn"]["aspect_ratios"] == yaml.safe_load(f"[{anchors[2]}]")
    flip = re.search(r"p=([0-9.]+)", reference["D2GO_DATA.AUG_OPS.TRAIN (d2go default)"][0])
    assert ours["train"]["augment"]["hflip_prob"] == float(flip[1])
    momentum = re.search(r"momentum ([0-9.]+)", reference["SOLVER.OPTIMIZER (d2go default)"][1])
    assert ours["train"]["momentum"] == float(momentum[1])


def test_playground_defaults():
    """The knobs of the hosted playground: its defaults, where d2go's config has no say."""
    m = DetectorConfig().model
    assert (m.arch, m.weights) == ("fbnetv3_a_dsmask", "FBNetV3a-DSMask-C4 COCO")


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
        ({"model": {"rpn": {"iou_thresholds": [0.8, 0.7]}}}, "model.rpn.iou_thresholds: got [0.8, 0.7]; lower bound 0.8 must be <= upper bound 0.7"),
        ({"model": {"roi_heads": {"iou_thresholds": [0.5, 1.5]}}}, "model.roi_heads.iou_thresholds: IoU thresholds must lie in [0, 1]"),
        ({"model": {"pooler_resolution": 0}}, "model.pooler_resolution: got 0; input should be greater than or equal to 1"),
        ({"model": {"rpn": {"nms_thres": 0.5}}}, "unknown key 'model.rpn.nms_thres'; did you mean 'nms_thresh'?"),
        ({"modle": {}}, "unknown key 'modle'; did you mean 'model'?"),
        ({"model": {"freeze_at": "two"}}, "model.freeze_at: got 'two'; input should be a valid integer"),
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
