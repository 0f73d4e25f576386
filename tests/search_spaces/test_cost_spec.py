"""`CostSpec` holds every knob that changes the deployed model: checked against the built model itself."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from torch import nn
from torchvision.ops import StochasticDepth

from detector import build_detector
from detector.config import load_config
from helpers.points import other_value
from nars.trial.proxy import proxy_space_spec
from search_spaces import CostModel, load_space
from search_spaces.fbnetv3.cost_spec import CostSpec, cost_fields

SIMPLE = (int, float, bool, str, type(None))
EVAL_IDENTITY = (nn.Dropout, StochasticDepth, nn.Identity)  # no-ops in eval mode: what they hold cannot cost anything


def _simple(value: Any) -> bool:
    if isinstance(value, (tuple, list)):
        return all(_simple(v) for v in value)
    if isinstance(value, dict):
        return all(_simple(v) for v in value.values())
    return isinstance(value, SIMPLE)


def inference_signature(config: Any) -> dict[str, Any]:
    """What the eval model computes, read from the built model (not from the spec): every module's type and
    plain hyperparameters, and every weight's shape; training-only state (training sizes, the RPN's training
    top-k, dropout and stochastic depth) left out."""
    model = build_detector(config, num_classes=80, load_weights=False).eval()
    signature: dict[str, Any] = {"shapes": sorted((k, tuple(v.shape)) for k, v in model.state_dict().items())}
    for name, module in model.named_modules():
        if isinstance(module, EVAL_IDENTITY):
            signature[name] = "identity in eval"
            continue
        signature[name] = type(module).__name__
        for key, value in vars(module).items():
            if key in ("_pre_nms_top_n", "_post_nms_top_n"):
                signature[f"{name}.{key}"] = value["testing"]
            elif not key.startswith("_") and key not in ("training", "train_sizes") and _simple(value):
                signature[f"{name}.{key}"] = value
    return signature


def test_the_spec_is_made_of_the_marked_config_fields():
    fields = cost_fields()
    assert {"model.arch", "model.norm", "model.rpn.pre_nms_topk_test", "model.rpn.post_nms_topk_test", "input.min_size"} <= set(fields)
    assert not {"train.lr", "model.weights", "model.rpn.pre_nms_topk_train", "model.drop_path_rate"} & set(fields)
    spec = CostSpec.of(load_config({"model": {"arch": "fbnetv3_a", "weights": None, "rpn": {"pre_nms_topk_test": 500}}}), num_classes=3)
    rebuilt = spec.config()
    assert rebuilt.model.rpn.pre_nms_topk_test == 500 and rebuilt.model.num_classes == 3
    assert CostSpec.of(rebuilt, num_classes=80) == spec, "the rebuilt config has the same spec"


def test_a_searched_parameter_that_changes_the_deployed_model_changes_the_spec():
    space = load_space(proxy_space_spec({"kind": "fbnetv3"}))
    rng = np.random.default_rng(0)
    checked = {"spec changes": set(), "neither": set()}
    for point in space.sample(6, seed=1, method="random"):
        config = space.to_config(point)
        spec, signature = CostSpec.of(config, 80), inference_signature(config)
        for param in space.params:
            if param.name not in point:
                continue
            other = space.to_config(space.repair({**point, param.name: other_value(param, point[param.name])}, rng))
            if inference_signature(other) != signature:
                assert CostSpec.of(other, 80) != spec, f"'{param.name}' changes the deployed model but not its CostSpec"
                checked["spec changes"].add(param.name)
            else:
                checked["neither"].add(param.name)
    assert {"min_size", "norm", "pooler_resolution", "rpn_pre_nms_topk_test", "rpn_post_nms_topk_test"} <= checked["spec changes"]
    assert {"sgd_lr", "batch_size", "rpn_pre_nms_topk_train", "drop_path_rate", "scale_jitter"} <= checked["neither"]


def test_latency_is_cached_per_machine_setting_with_its_spread(tmp_path):
    config = load_config({"model": {"arch": "fbnetv3_a_dsmask_tiny", "weights": None, "freeze_at": 0}, "input": {"min_size": 64, "max_size": 96}})
    model = CostModel(cache_path=tmp_path / "costs.json", latency_runs=5, latency_warmup=1)
    cost = model.measure(config, latency=True)
    assert cost.latency_ms > 0 and cost.latency_spread_ms >= 0
    again = CostModel(cache_path=tmp_path / "costs.json", latency_runs=5, latency_warmup=1)
    assert again.measure(config, latency=True) == cost and again.measurements == 0, "read back, not measured again"
    other_threads = CostModel(cache_path=tmp_path / "costs.json", latency_runs=5, latency_warmup=1, latency_threads=2)
    other_threads.measure(config, latency=True)
    assert other_threads.measurements == 1, "another thread count is another setting: measured"
    with pytest.raises(Exception, match="latency backend must be one of torch"):
        CostModel(latency_backend="onnx")


def test_a_latency_near_its_bound_is_measured_again_with_more_runs(tmp_path):
    from search_spaces import parse_constraints

    config = load_config({"model": {"arch": "fbnetv3_a_dsmask_tiny", "weights": None, "freeze_at": 0}, "input": {"min_size": 64, "max_size": 96}})
    model = CostModel(latency_runs=4, latency_warmup=1)
    first = model.measure(config, latency=True)
    far = parse_constraints([f"latency_ms <= {first.latency_ms * 10}"])
    assert model.meets(config, far)[0] and model.measurements == 2  # static + latency: no second timing
    near = parse_constraints([f"latency_ms <= {first.latency_ms}"])
    model.meets(config, near)
    assert model.measurements == 3, "within noise of the bound: timed again"
    assert model._disk[model._digest(model.key(config))]["latency_ms"][model.latency_setting]["runs"] == 12
    model.meets(config, near)
    assert model.measurements == 3, "the refined figure is not timed again"


@pytest.mark.parametrize("backend", ["onnxruntime", "onnxruntime-int8"])
def test_latency_of_the_onnx_backends_times_the_exported_file_and_caches_it_apart(tmp_path, monkeypatch, backend):
    pytest.importorskip("onnxruntime")
    import detector.deploy.int8

    quantized = []
    real = detector.deploy.int8.quantize_int8
    monkeypatch.setattr(detector.deploy.int8, "quantize_int8", lambda *a, **k: quantized.append(a) or real(*a, **k))
    config = load_config({"model": {"arch": "fbnetv3_a_dsmask_tiny", "weights": None, "freeze_at": 0}, "input": {"min_size": 64, "max_size": 96}})
    torch_model = CostModel(cache_path=tmp_path / "costs.json", latency_runs=3, latency_warmup=1)
    torch_model.measure(config, latency=True)
    model = CostModel(cache_path=tmp_path / "costs.json", latency_runs=3, latency_warmup=1, latency_backend=backend)
    cost = model.measure(config, latency=True)
    assert cost.latency_ms > 0 and model.measurements == 1, "another backend is another setting: measured"
    assert len(quantized) == (backend == "onnxruntime-int8"), "the int8 backend times the quantized file, fp32 does not quantize"
    settings = model._disk[model._digest(model.key(config))]["latency_ms"]
    assert set(settings) == {torch_model.latency_setting, model.latency_setting} and model.latency_setting.endswith(f"| {backend}")
    again = CostModel(cache_path=tmp_path / "costs.json", latency_backend=backend)
    assert again.measure(config, latency=True) == cost and again.measurements == 0
