"""search_spaces: typed parameters, Sobol sampling, encoding, variation, FBNetV3 configs, cost, constraints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from torch.utils.flop_counter import FlopCounterMode

from core.errors import ConfigError
from detector import build_detector
from detector.config import config_to_dict, load_config
from detector.modeling.backbones.fbnet import parse_detection_arch
from search_spaces import Choice, CostModel, Float, Int, SearchSpace, load_space, parse_constraints, sample_feasible
from search_spaces.fbnetv3.arch import FAMILY
from search_spaces.fbnetv3.parameters import DERIVED_TARGETS, FIELD_PARAMETERS

REPO = Path(__file__).resolve().parents[2]
NB201_OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
NB201 = {"parameters": {f"Op{i}": {"type": "choice", "values": NB201_OPS} for i in range(6)}}


@pytest.fixture(scope="module")
def space():
    return load_space()


@pytest.fixture(scope="module")
def points(space):
    return space.sample(64, seed=11)


def assert_same_point(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key, value in a.items():
        if isinstance(value, float):
            assert b[key] == pytest.approx(value, rel=1e-9, abs=1e-9), key
        else:
            assert b[key] == value and type(b[key]) is type(value), key


# ---------------------------------------------------------------------- plain spaces


def test_plain_nas_bench_201_space():
    nb = load_space(NB201)
    assert type(nb) is SearchSpace and len(nb) == 6 and nb.names == tuple(f"Op{i}" for i in range(6))
    assert nb.feature_names[:5] == [f"Op0={op}" for op in NB201_OPS] and len(nb.feature_names) == 30
    pts = nb.sample(64, seed=0)
    assert all(set(p[f"Op{i}"] for p in pts) == set(NB201_OPS) for i in range(6))
    features = nb.encode(pts)
    assert features.shape == (64, 30) and np.array_equal(features.sum(axis=1), np.full(64, 6.0))
    assert nb.decode(features) == pts
    rng = np.random.default_rng(0)
    child = nb.mutate(pts[0], rng, n_params=2)
    assert sum(child[k] != pts[0][k] for k in child) == 2
    nb.validate(nb.crossover(pts[0], pts[1], rng))


def test_plain_space_from_an_experiment_yaml(tmp_path):
    path = tmp_path / "experiment.yaml"
    path.write_text(
        "searcher: nars\n"
        "space:\n"
        "  parameters:\n"
        "    lr: {type: float, low: 1e-4, high: 1e-1, log: true}\n"  # YAML 1.1 reads 1e-4 as a string
        "    op: {type: choice, values: [a, b, c]}\n"
        "    gate: {type: choice, values: [x, y], when: {op: [b, c]}}\n"
    )
    space = load_space(path)
    assert space.names == ("lr", "op", "gate") and space.params[0].low == 1e-4
    pts = space.sample(16, seed=0)
    assert all(("gate" in p) == (p["op"] != "a") for p in pts)
    assert space.decode(space.encode(pts)) == [{**p, "lr": pytest.approx(p["lr"])} for p in pts]


def test_plain_space_does_not_load_torch():
    code = (
        "import sys, search_spaces\n"
        f"s = search_spaces.load_space({NB201!r})\n"
        "s.decode(s.encode(s.sample(8)))\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)


def test_typed_parameters_encode_min_max_and_log():
    space = load_space(
        {
            "parameters": {
                "lr": {"type": "float", "low": "1e-4", "high": 1e-2, "log": True},  # YAML reads 1e-4 as a string
                "units": {"type": "int", "low": 16, "high": 64, "step": 16},
                "batch": {"type": "choice", "values": [8, 16, 32], "ordered": True},
                "act": {"type": "choice", "values": ["relu", "tanh"]},
            },
            "fixed": {"act": "relu"},
        }
    )
    assert space.names == ("lr", "units", "batch") and space.fixed == {"act": "relu"}
    assert space.feature_names == ["lr", "units", "batch"]
    features = space.encode([{"lr": 1e-4, "units": 16, "batch": 8}, {"lr": 1e-3, "units": 48, "batch": 32}])
    np.testing.assert_allclose(features, [[0.0, 0.0, 0.0], [0.5, 2 / 3, 1.0]])
    assert space.complete({"lr": 1e-3, "units": 48, "batch": 32}) == {"act": "relu", "lr": 1e-3, "units": 48, "batch": 32}
    values = [p["units"] for p in space.sample(32)]
    assert set(values) == {16, 32, 48, 64} and all(type(v) is int for v in values)
    with pytest.raises(ConfigError, match=r"parameter 'units': got 20; allowed: an integer in \[16, 64\] in steps of 16"):
        space.validate({"lr": 1e-3, "units": 20, "batch": 8})
    with pytest.raises(ConfigError, match="parameter 'act' is pinned to 'relu'"):
        space.validate({"lr": 1e-3, "units": 16, "batch": 8, "act": "tanh"})
    assert isinstance(Float("x", 0, 1), Float) and Int("n", 0, 4, 2).size == 3 and Choice("c", ["a"]).size == 1


# ---------------------------------------------------------------------- sampling, encoding, variation


def test_sobol_is_deterministic(space):
    first = space.sample(16, seed=3)
    assert space.sample(16, seed=3) == first
    assert space.sample(10, seed=3) == first[:10]  # a longer sample extends a shorter one
    assert space.sample(16, seed=4) != first
    assert space.sample(8, seed=3, method="random") == space.sample(8, seed=3, method="random") != first[:8]
    for point in first:
        space.validate(point)
    with pytest.raises(ValueError, match="method"):
        space.sample(4, method="lhs")


def test_every_choice_is_reachable(space):
    pts = space.sample(256, seed=0)
    for param in space.params:
        seen = {p[param.name] for p in pts if param.name in p}
        if isinstance(param, Choice):
            assert seen == set(param.values), param.name
        elif isinstance(param, Int) and param.size <= 16:
            assert len(seen) == param.size, param.name


def test_encode_decode_round_trip(space, points):
    features = space.encode(points)
    assert features.shape == (len(points), len(space.feature_names)) == (64, len(set(space.feature_names)))
    assert features.min() >= 0.0 and features.max() <= 1.0
    assert {"optimizer=sgd", "optimizer=adamw", "sgd_lr", "trunk1_width", "norm=GN"} <= set(space.feature_names)
    for original, decoded in zip(points, space.decode(features)):
        assert_same_point(original, decoded)
    with pytest.raises(ValueError, match="shape"):
        space.decode(features[:, :-1])


def test_conditional_parameters(space, points):
    with_se = next(p for p in points if p["trunk1_se"])
    without = next(p for p in points if not p["trunk1_se"])
    assert "trunk1_se_gate" in with_se and "trunk1_se_gate" not in without
    assert all(("sgd_lr" in p) == (p["optimizer"] == "sgd") == ("adamw_lr" not in p) for p in points)
    gate = [i for i, f in enumerate(space.feature_names) if f.startswith("trunk1_se_gate=")]
    np.testing.assert_allclose(space.encode([without])[0, gate], 0.5)  # inactive: the neutral encoding
    space.validate({**without, "trunk1_se_gate": "not even a gate"})  # inactive keys are ignored
    missing = {k: v for k, v in with_se.items() if k != "trunk1_se_gate"}
    with pytest.raises(ConfigError, match="parameter 'trunk1_se_gate' is missing"):
        space.validate(missing)
    adamw = next(p for p in points if p["optimizer"] == "adamw")
    config = space.to_config(adamw)
    assert config.train.lr == adamw["adamw_lr"] and config.train.weight_decay == adamw["adamw_weight_decay"]


@pytest.mark.parametrize("n_params", [1, 3])
def test_mutate_changes_exactly_n_params(space, points, n_params):
    rng = np.random.default_rng(n_params)
    for point in points[:24]:
        child = space.mutate(point, rng, n_params=n_params)
        space.validate(child)
        assert sum(child[k] != point[k] for k in point.keys() & child.keys()) == n_params
    with pytest.raises(ValueError, match="n_params"):
        space.mutate(points[0], rng, n_params=0)


def test_crossover_gives_valid_children(space, points):
    rng = np.random.default_rng(0)
    for a, b in zip(points[:16], points[16:32]):
        child = space.crossover(a, b, rng)
        space.validate(child)
        assert all(child[k] in (a.get(k), b.get(k)) for k in child if k in a and k in b)


# ---------------------------------------------------------------------- FBNetV3 space <-> detector config


def test_point_config_point_round_trip(space, points):
    for point in points[:32]:
        config = space.to_config(point)
        assert_same_point(point, space.from_config(config))
        lower, upper = config.model.rpn.iou_thresholds
        assert 0.0 <= lower <= upper == point["rpn_iou_upper"]
        assert config.input.max_size == round(point["min_size"] * 320 / 224)
        sizes = config.input.min_size_train
        jitter = point["scale_jitter"]
        assert (not sizes and jitter == 0) or (max(sizes) - point["min_size"] == point["min_size"] - min(sizes) == jitter)
        assert isinstance(config.model.arch, dict) and config.model.weights is None and config.model.freeze_at == 0


def test_default_ranges_bracket_the_fbnetv3_family(space, points):
    data = config_to_dict(space.to_config(points[0]))
    for name in FAMILY:
        point = space.from_config({**data, "model": {**data["model"], "arch": name}})
        rebuilt = space.to_config(point)  # the family member's projection onto the space builds
        assert len(rebuilt.model.arch["trunk"]) == 4
    with pytest.raises(ConfigError, match="parameter 'stem_width': got 48"):
        space.from_config({**data, "model": {**data["model"], "arch": "fbnetv3_h"}})


def _documented_defaults() -> dict[str, tuple[dict, str]]:
    """The commented default lines of default_space.yaml: name -> (spec, 'group: field ...')."""
    lines = (REPO / "search_spaces" / "fbnetv3" / "default_space.yaml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if "# Defaults of the non-arch parameters" in line)
    documented = {}
    for line in lines[start + 2:]:
        if not line.startswith("  #   "):
            break
        entry, _, comment = line.removeprefix("  #   ").partition(" # ")
        (name, spec), = yaml.safe_load(entry).items()
        documented[name] = (spec, comment.strip())
    return documented


def test_default_space_yaml_documents_the_code_defaults(space):
    documented = load_space(REPO / "search_spaces" / "fbnetv3" / "default_space.yaml")
    assert documented.names == space.names and documented.fixed == space.fixed, "the file loads to the default space"
    lines = _documented_defaults()
    assert list(lines) == list(FIELD_PARAMETERS), "one line per non-arch parameter, in the code's order"
    for name, (spec, comment) in lines.items():
        code = FIELD_PARAMETERS[name]
        written = {"log": False, "ordered": False, "step": 1, "when": None} | spec
        for key in ("type", "low", "high", "step", "log", "values", "ordered", "when"):
            if key in code or key in spec:
                assert written.get(key) == code.get(key, written.get(key)), f"{name}.{key}: documented {written.get(key)}, code {code.get(key)}"
        fields = [code["target"]] if code["target"] else [t for t in DERIVED_TARGETS if t in comment]
        assert fields and comment.startswith(f"{code['group']}: {fields[0]}"), f"{name}: comment '{comment}' should name {code['group']} and its field"


def test_pinning_and_excluding():
    recipe_only = load_space({"kind": "fbnetv3", "fixed": {"arch": "fbnetv3_a_dsmask"}, "exclude": ["detector", "input"]})
    assert not any(n.endswith(("_width", "_depth")) for n in recipe_only.names) and "lr" not in recipe_only.names
    assert recipe_only.fixed["arch"] == "fbnetv3_a_dsmask" and recipe_only.fixed["norm"] == "naiveSyncBN"
    point = recipe_only.sample(1, seed=2)[0]
    config = recipe_only.to_config(point)
    assert config.model.arch == "fbnetv3_a_dsmask" and config.model.rpn.iou_thresholds == (0.3, 0.7)
    assert recipe_only.from_config(config) == point

    arch_only = load_space({"kind": "fbnetv3", "exclude": ["recipe", "detector", "input"], "base": {"train": {"lr": 0.05}}})
    assert all(n.startswith(("stem", "trunk", "rpn", "bbox")) for n in arch_only.names)
    config = arch_only.to_config(arch_only.sample(1)[0])
    assert config.train.lr == 0.05 and config.input.min_size == 224 and config.input.min_size_train == []

    adamw = load_space(
        {
            "kind": "fbnetv3",
            "fixed": {"optimizer": "adamw", "trunk1_kernel": 3},
            "parameters": {"adamw_lr": {"high": 1e-3}, "momentum": {"type": "float", "low": 0.8, "high": 0.95, "target": "train.momentum"}},
            "exclude": ["trunk*_se"],
        }
    )
    assert "sgd_lr" not in adamw.names and "sgd_lr" not in adamw.fixed and adamw.fixed["trunk1_kernel"] == 3
    assert not any(n.startswith("trunk") and n.endswith(("_se", "_se_gate")) for n in adamw.names) and "rpn_se" in adamw.names
    lr = adamw.params[adamw.names.index("adamw_lr")]
    assert not lr.when and lr.high == 1e-3  # its condition on the pinned optimizer always holds now
    point = adamw.sample(1, seed=5)[0]
    config = adamw.to_config(point)
    assert config.train.optimizer == "adamw" and config.train.momentum == point["momentum"]
    assert {b["kernel"] for b in config.model.arch["trunk"][1]} == {3}
    template_se = [b["se"] for b in config.model.arch["trunk"][2]]
    assert template_se == [False, False]  # excluded SE keeps the template's blocks (dsmask has no SE)


def plain(name: str, **spec) -> dict:
    return {"parameters": {name: spec}}


def fbnet(**section) -> dict:
    return {"kind": "fbnetv3", **section}


FLOAT = {"type": "float", "low": 0.8, "high": 0.9}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (plain("lr", type="float", low=1, high=0.1), r"parameter 'lr': low \(1\) must be <= high \(0.1\)"),
        (plain("op", type="flaot", low=0, high=1), r"parameter 'op': unknown type 'flaot' \(did you mean 'float'\?\)"),
        (plain("op", type="choice", values=[]), r"parameter 'op': 'values' must be a non-empty list"),
        (plain("lr", type="float", low=0, high=1, log=True), r"parameter 'lr': a log-scale range needs low > 0"),
        (plain("n", type="int", low=0, high=10, step=3), r"parameter 'n': high - low \(10 - 0\) must be a multiple of step"),
        (plain("n", type="int", low=0, high=4, hihg=5), r"parameter 'n': unknown keys \['hihg'\]"),
        ({**NB201, "fixed": {"Op9": "none"}}, r"fixed: unknown parameter 'Op9'"),
        (plain("g", type="choice", values=[1, 2], when={"se": True}), r"parameter 'g': 'when' refers to unknown parameter 'se'"),
        (fbnet(fixed={"sgd_lrr": 0.1}), r"fixed: unknown parameter 'sgd_lrr'; did you mean 'sgd_lr'\?"),
        (fbnet(parameters={"trunk1_width": {"low": 64, "high": 16}}), r"parameter 'trunk1_width': low \(64\) must be <= high \(16\)"),
        (fbnet(parameters={"trunk1_kernel": {"type": "choice", "values": [3, 4]}}), r"'trunk1_kernel': 4 is not a valid block kernel"),
        (fbnet(parameters={"momentum": FLOAT}), r"unknown parameter 'momentum'.*needs `target:`"),
        (fbnet(parameters={"m": {**FLOAT, "target": "train.momentun"}}), r"unknown target 'train.momentun'; did you mean 'train.momentum'"),
        (fbnet(exclude=["recipes"]), r"space.exclude: 'recipes' matches no parameter; did you mean 'recipe'\?"),
        (fbnet(fixed={"norm": "FrozenBn"}), r"a sampled point does not give a valid detector config: model.norm: got 'FrozenBn'"),
        (fbnet(base={"model": {"weights": "ckpt.pt", "weights_fit": "exact"}}),
         r"base.model.weights_fit: exact cannot load 'ckpt.pt' into searched architectures"),
        (fbnet(tempalte="fbnetv3_a"), r"space: unknown key 'tempalte'; did you mean 'template'\?"),
    ],
)
def test_invalid_space_specs_name_the_problem(spec, message):
    with pytest.raises(ConfigError, match=message):
        load_space(spec)


@pytest.mark.parametrize("text", ["flops < = 3", "flops <= abc", "bananas <= 3", "__import__('os').system('x') <= 1", "flops 600e6", ""])
def test_malformed_constraints_are_rejected(text):
    with pytest.raises(ConfigError, match="malformed constraint"):
        parse_constraints([text])


def test_constraints_parse():
    flops, params = parse_constraints(["flops <= 600e6", " params<5e6 "])
    assert (flops.metric, flops.op, flops.bound, str(flops)) == ("flops", "<=", 6e8, "flops <= 600e6")
    assert params.holds(4.9e6) and not params.holds(5e6)


# ---------------------------------------------------------------------- cost


def test_cost_matches_the_reference_and_caches(tmp_path):
    dsmask = {"model": {"arch": "fbnetv3_a_dsmask", "weights": None, "rpn": {"post_nms_topk_test": 30}}}
    space = load_space({"kind": "fbnetv3", "fixed": {"arch": "fbnetv3_a_dsmask"}})
    model = CostModel(space, cache_path=tmp_path / "cost.json")
    reference = model.measure(load_config(dsmask))
    # ../shared/reference: 1.26 GFLOPs at 224x320 with 30 RoIs, 1,744,012 params; torchvision's
    # predictor adds 4 box deltas for the background class (160 * 4 + 4 = 644 more).
    assert reference.flops == pytest.approx(1.2575e9, rel=1e-3) and reference.params == 1_744_012 + 644
    assert model.measure(space.sample(1)[0]).params == reference.params  # recipe and detector knobs add no weights
    inline = parse_detection_arch("fbnetv3_a_dsmask").to_dict()
    assert model.key(load_config({"model": {**dsmask["model"], "arch": inline}})) == model.key(load_config(dsmask))
    assert model.measurements == 2
    reread = CostModel(space, cache_path=tmp_path / "cost.json")
    assert reread.measure(load_config(dsmask)) == reference and reread.measurements == 0


def _whole_model_count(config) -> tuple[int, int]:
    """The oracle: FLOPs of one eval forward of the whole built detector, `model([image])`, and its params.

    The image is exactly min_size x max_size (the transform leaves it at scale 1) and RPN NMS is off
    (nms_thresh 1.0 suppresses nothing), so the RoI heads see exactly post_nms_topk_test proposals, the
    setting the cost model states; a hook checks that count.
    """
    data = config_to_dict(config)
    data["model"]["rpn"]["nms_thresh"] = 1.0
    model = build_detector(load_config(data), num_classes=80, load_weights=False).eval()
    proposals = []
    hook = model.rpn.register_forward_hook(lambda module, args, output: proposals.append(len(output[0][0])))
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model([torch.rand(3, config.input.min_size, config.input.max_size)])
    hook.remove()
    assert proposals == [config.model.rpn.post_nms_topk_test], "the RoI heads saw another number of proposals"
    return counter.get_total_flops(), sum(p.numel() for p in model.parameters())


def test_cost_summed_over_parts_is_the_flop_count_of_the_whole_model(space, points):
    """Blocks, RPN head and predictor counted apart and memoized add up to one forward of the whole model, exactly."""
    cost_model = CostModel(space)
    configs = [space.to_config(p) for p in points[:6]]
    configs += [load_config({"model": {"arch": name, "weights": None, "norm": norm, "freeze_at": 0}})
                for name, norm in (("fbnetv3_a", "GN"), ("fbnetv3_g_fpn", "BN"), ("fbnetv3_a_dsmask_c5", "FrozenBN"))]
    for config in configs:
        cost = cost_model.measure(config)
        assert (cost.flops, cost.params) == _whole_model_count(config), config.model.arch


def test_sample_feasible_filters_by_measured_flops(space):
    probe = CostModel(space)
    candidates = space.sample(8, seed=21)
    bound = float(sorted(probe.measure(p).flops for p in candidates)[2])  # 3 of the 8 pass
    result = sample_feasible(space, 3, 21, [f"flops <= {bound}"])
    assert len(result.points) == 3 and 0 < result.acceptance_rate <= 1 and result.tried >= 3
    fresh = CostModel(space)  # no shared cache: measure again
    assert all(fresh.measure(p).flops <= bound for p in result.points)
    rejected = [p for p in candidates[: result.tried] if p not in result.points]
    assert rejected and all(fresh.measure(p).flops > bound for p in rejected)


def test_latency_is_measured_cached_and_constrained():
    small = load_space({"kind": "fbnetv3", "fixed": {"min_size": 64, "rpn_post_nms_topk_test": 10}})
    model = CostModel(small, latency_runs=2, latency_warmup=1)
    point = small.sample(1, seed=1)[0]
    cost = model.measure(point, latency=True)
    assert cost.latency_ms > 0 and model.measurements == 2
    assert model.measure(point, latency=True) == cost and model.measurements == 2
    result = sample_feasible(small, 1, 1, ["flops <= 1e12", "latency_ms <= 1e6"], cost_model=model)
    assert result.points == [point] and result.costs == [cost] and result.acceptance_rate == 1.0


def test_unreachable_constraint_names_itself(space):
    with pytest.raises(ConfigError, match=r"flops <= 1e6 unreachable: smallest flops among 4 samples is \d"):
        sample_feasible(space, 2, 0, ["flops <= 1e6"], max_tries=4)
    with pytest.raises(ConfigError, match="params >= 1e12 unreachable: largest params among 4 samples"):
        sample_feasible(space, 2, 0, ["params >= 1e12"], max_tries=4)


# ---------------------------------------------------------------------- the detector runs


def test_sampled_points_build_and_train(space):
    small = load_space({"kind": "fbnetv3", "fixed": {"min_size": 64}})
    torch.manual_seed(0)
    images = [torch.rand(3, 64, 90), torch.rand(3, 60, 80)]
    targets = [{"boxes": torch.tensor([[4.0, 6.0, 40.0, 50.0]]), "labels": torch.tensor([1])}] * 2
    for point in small.sample(2, seed=7):
        model = build_detector(small.to_config(point), num_classes=2, load_weights=False)
        losses = model.train()(images, targets)
        loss = sum(losses.values())
        loss.backward()
        assert torch.isfinite(loss)
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.backbone.parameters())
        with torch.no_grad():
            outputs = model.eval()(images)
        assert len(outputs) == 2 and set(outputs[0]) == {"boxes", "labels", "scores"}


def test_default_config_is_the_base_with_the_pinned_values():
    """The recipe a winner is compared with: what a user trains without searching. Searched knobs keep the base's
    value even where a sample would differ; pinned ones (recipe and arch alike) apply."""
    spec = yaml.safe_load((REPO / "experiments" / "quickstart_search.yaml").read_text())["space"]
    spec["fixed"] = {**spec["fixed"], "trunk1_width": 24}
    space = load_space(spec)
    config = space.default_config()
    assert config.train.lr == space.base.train.lr == 0.02  # sgd_lr is searched in [0.02, 0.12]: the base value stays
    assert config.model.rpn.pre_nms_topk_train == space.base.model.rpn.pre_nms_topk_train  # searched, outside its range
    assert (config.train.epochs, config.train.batch_size, config.model.norm) == (24, 4, "naiveSyncBN")  # fixed
    assert config.train.warmup_iters == 8 and config.input.min_size == 96  # base values of excluded knobs
    layout = space.template.read(config.model.arch)
    assert layout["trunk1_width"] == 24  # pinned arch property
    assert {k: v for k, v in layout.items() if k != "trunk1_width"} == {
        k: v for k, v in space.template.read(space.template.source).items() if k != "trunk1_width"}
    sampled = space.to_config(space.sample(1, seed=3)[0])
    assert sampled.train.lr != config.train.lr and sampled.train.epochs == config.train.epochs
