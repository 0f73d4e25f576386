"""Weight registry, download and the d2go <-> FBNetV3OD key mapping, against the reference tables."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import torch
from conftest import write_random_checkpoint
from torch import nn
from torchvision.ops import FrozenBatchNorm2d

from core.errors import CheckpointError
from detector import build_detector
from detector.weights import hub
from detector.weights.d2go import from_d2go_state_dict, to_d2go_state_dict
from detector.weights.hub import read_checkpoint
from detector.weights.loading import extract_state_dict, load_weights
from detector.weights.registry import WEIGHTS, PretrainedWeights, resolve_weights

ARCHS = [
    ("fbnetv3_a_dsmask", "d2go_fbnetv3a_dsmask_c4_state_dict.tsv", "faster_rcnn_fbnetv3a_dsmask_C4", 1_744_012),
    ("fbnetv3_a", "d2go_fbnetv3a_c4_state_dict.tsv", "faster_rcnn_fbnetv3a_C4", 5_306_708),
]


def _model(arch: str, classes: int = 80, weights: str | None = None, **extra):
    return build_detector({"model": {"arch": arch, "num_classes": classes, "weights": weights, "freeze_at": 0, **extra}})


def _tsv(path: Path, config: str | None = None) -> dict[str, tuple[int, ...]]:
    """Key -> shape from a reference TSV (header is the last '#' line; optional config column filter)."""
    lines = path.read_text().splitlines()
    header = [line for line in lines if line.startswith("#")][-1].lstrip("# ").split("\t")
    body = [line.split("\t") for line in lines if line and not line.startswith("#")]
    if config is not None:
        body = [r for r in body if r[0].startswith(config)]
    key, shape = header.index("key"), header.index("shape")
    parse = lambda s: () if s == "scalar" else tuple(int(d) for d in s.split("x"))
    return {r[key]: parse(r[shape]) for r in body}


@pytest.mark.parametrize("arch, tsv, _fixture, total", ARCHS, ids=[a[0] for a in ARCHS])
def test_mapped_state_dict_equals_original_keys_and_shapes(reference_dir, arch, tsv, _fixture, total):
    expected = _tsv(reference_dir / tsv)
    mapped = to_d2go_state_dict(_model(arch).state_dict())
    assert set(mapped) == set(expected)
    assert {k: tuple(v.shape) for k, v in mapped.items()} == expected
    params = {k for k, _ in _model(arch).named_parameters()}
    ours = _model(arch).state_dict()
    from detector.weights.d2go import to_d2go_key

    assert sum(mapped[to_d2go_key(k)].numel() for k in ours if k in params) == total


@pytest.mark.parametrize("arch, _tsv_name, fixture, _total", ARCHS, ids=[a[0] for a in ARCHS])
def test_d2go_round_trip_is_lossless(fixtures_dir, arch, _tsv_name, fixture, _total):
    original = read_checkpoint(fixtures_dir / f"{fixture}_random_init.pth")["model"]
    model = _model(arch)
    converted, unused = from_d2go_state_dict(original, model)
    assert unused == []
    back = to_d2go_state_dict(converted)
    assert set(back) == set(original)
    assert all(torch.equal(back[k], original[k]) for k in original)


def test_mask_head_keys_are_skipped_and_reported(tmp_path, fixtures_dir, reference_dir, caplog):
    """The released Mask R-CNN checkpoint of d2go's model zoo has 67 extra mask-head tensors."""
    ckpt = read_checkpoint(fixtures_dir / "faster_rcnn_fbnetv3a_C4_random_init.pth")
    extra = _tsv(reference_dir / "d2go_mask_head_extra_keys.tsv", config="mask_rcnn_fbnetv3a_C4")
    assert len(extra) == 67
    ckpt["model"].update({k: torch.zeros(shape) for k, shape in extra.items()})
    path = tmp_path / "mask_rcnn.pth"
    torch.save(ckpt, path)
    model = _model("fbnetv3_a")
    with caplog.at_level("INFO"):
        report = load_weights(model, str(path))
    assert report.layout == "d2go" and report.missing == [] and report.unexpected == []
    assert f"skipped {len(extra)} mask-head tensors" in caplog.text


def test_fewer_classes_reinitialise_only_the_predictor(fixtures_dir):
    path = fixtures_dir / "faster_rcnn_fbnetv3a_dsmask_C4_random_init.pth"
    model = _model("fbnetv3_a_dsmask", classes=3)
    before = model.roi_heads.box_predictor.cls_score.weight.clone()
    report = load_weights(model, str(path))
    assert len(report.reinitialized) == 4 and report.missing == []
    assert "re-initialised 4 class-specific predictor tensors" in report.summary()
    assert torch.equal(model.roi_heads.box_predictor.cls_score.weight, before)
    original = read_checkpoint(path)["model"]["backbone.body.trunk3.fbnetv2_3_5.pw.conv.weight"]
    assert torch.equal(model.backbone.body.trunk3[5].pw[0].weight, original)


def test_another_archs_checkpoint_is_refused(fixtures_dir):
    with pytest.raises(CheckpointError, match="does not fit this architecture"):
        _model("fbnetv3_a", weights=str(fixtures_dir / "faster_rcnn_fbnetv3a_dsmask_C4_random_init.pth"))


def test_frozen_and_group_norm_models_load_original_weights(fixtures_dir):
    """Frozen stages keep weights and statistics as FrozenBatchNorm2d buffers: every tensor of the file must land.
    Under GN (frozen stages included: GroupNorm is not swapped for FrozenBN) the convolutions and the norms'
    affine weight and bias load from the file's BN, and its running statistics, which GroupNorm has no place for,
    are reported unused rather than dropped silently."""
    path = fixtures_dir / "faster_rcnn_fbnetv3a_dsmask_C4_random_init.pth"
    original = read_checkpoint(path)["model"]
    counters = {k for k in original if k.endswith("num_batches_tracked")}
    statistics = {k for k in original if k.endswith(("running_mean", "running_var"))}
    file_norms = sum(k.endswith("running_mean") for k in original)  # one per norm of the original model

    frozen = build_detector({"model": {"arch": "fbnetv3_a_dsmask", "num_classes": 80, "weights": str(path), "freeze_at": 4}})
    trunk_norms = [m for m in frozen.backbone.body.modules() if isinstance(m, (nn.BatchNorm2d, FrozenBatchNorm2d))]
    assert len(trunk_norms) == sum(k.startswith("backbone.") for k in counters)
    assert all(isinstance(m, FrozenBatchNorm2d) for m in trunk_norms)
    mapped = to_d2go_state_dict(frozen.state_dict())
    assert set(original) - set(mapped) == {k for k in counters if k.startswith("backbone.")}  # FrozenBN counts nothing
    assert [k for k in mapped if not torch.equal(mapped[k], original[k])] == []

    group_norm = _model("fbnetv3_a_dsmask", norm="GN", freeze_at=2)
    report = load_weights(group_norm, str(path))
    norms = [m for m in group_norm.modules() if isinstance(m, (nn.GroupNorm, nn.BatchNorm2d, FrozenBatchNorm2d))]
    assert len(norms) == file_norms and all(isinstance(m, nn.GroupNorm) and m.affine for m in norms)
    assert report.missing == [] and set(report.unexpected) == statistics and f"{len(statistics)} unused" in report.summary()
    mapped = to_d2go_state_dict(group_norm.state_dict())
    assert set(mapped) == set(original) - statistics - counters
    assert any(k.endswith(".bn.weight") for k in mapped) and any(k.endswith(".conv.weight") for k in mapped)
    assert [k for k in mapped if not torch.equal(mapped[k], original[k])] == []


def test_own_layout_checkpoints_load_too(tmp_path):
    source = _model("fbnetv3_a_dsmask_tiny", classes=2)
    path = tmp_path / "ours.pt"
    torch.save({"model": source.state_dict()}, path)
    report = load_weights(_model("fbnetv3_a_dsmask_tiny", classes=2), str(path))
    assert report.layout == "fbnetv3od" and report.missing == [] and report.unexpected == []


def test_ema_state_is_preferred_when_asked():
    checkpoint = {"model": {"w": torch.zeros(1)}, "ema_state": {"w": torch.ones(1)}}
    assert extract_state_dict(checkpoint, prefer_ema=True)["w"].item() == 1.0
    assert extract_state_dict(checkpoint)["w"].item() == 0.0


def test_truncated_checkpoint_gives_one_line(tmp_path, fixtures_dir):
    path = tmp_path / "truncated.pth"
    path.write_bytes((fixtures_dir / "faster_rcnn_fbnetv3a_dsmask_C4_random_init.pth").read_bytes()[:100_000])
    with pytest.raises(CheckpointError, match="not a readable checkpoint") as info:
        read_checkpoint(path)
    assert "\n" not in str(info.value)


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch /tmp/fbnetv3od_pwned",))


def test_pickle_that_would_run_code_is_refused(tmp_path):
    marker = Path("/tmp/fbnetv3od_pwned")
    marker.unlink(missing_ok=True)
    path = tmp_path / "evil.pth"
    torch.save({"model": _Exploit()}, path)
    with pytest.raises(CheckpointError, match=r"refused to load: it would import \S*system"):
        read_checkpoint(path)
    assert not marker.exists()


def test_file_that_is_no_checkpoint_at_all(tmp_path):
    path = tmp_path / "notes.pth"
    path.write_text("hello, not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        read_checkpoint(path)


def test_missing_local_file_and_unknown_name(tmp_path):
    with pytest.raises(CheckpointError, match="neither a registered name"):
        resolve_weights(str(tmp_path / "nope.pth"))


@pytest.fixture
def hub_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    return tmp_path / "hub"


def test_default_weights_are_the_original_model_zoo_checkpoint():
    from detector.config import DetectorConfig

    entry = WEIGHTS[DetectorConfig().model.weights]
    assert entry.arch == "fbnetv3_a_dsmask" and entry.url.endswith("250414811/model_0399999.pth")


def test_offline_download_fails_with_url_and_hint(hub_dir, monkeypatch):
    monkeypatch.setitem(WEIGHTS, "FBNetV3a-DSMask-C4 COCO", PretrainedWeights("FBNetV3a-DSMask-C4 COCO", "http://127.0.0.1:9/d2go/1/model.pth", "fbnetv3_a_dsmask"))
    with pytest.raises(CheckpointError) as info:
        resolve_weights("FBNetV3a-DSMask-C4 COCO")
    message = str(info.value)
    assert "http://127.0.0.1:9/d2go/1/model.pth" in message and "model.weights" in message and "\n" not in message
    assert not list(hub_dir.rglob("*.part")), "a failed download leaves no partial file"


def test_download_is_cached_and_verified(hub_dir, monkeypatch, fixtures_dir):
    source = fixtures_dir / "faster_rcnn_fbnetv3a_dsmask_C4_random_init.pth"
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    good = PretrainedWeights("local", source.as_uri(), "fbnetv3_a_dsmask", sha256=digest)
    monkeypatch.setitem(WEIGHTS, "local", good)
    path = resolve_weights("local")
    assert path.read_bytes() == source.read_bytes() and hub_dir in path.parents
    assert _model("fbnetv3_a_dsmask", weights="local") is not None
    bad = PretrainedWeights("bad", source.as_uri(), "fbnetv3_a_dsmask", sha256="0" * 64)
    monkeypatch.setitem(WEIGHTS, "bad", bad)
    monkeypatch.setattr("detector.weights.hub._cache_dir", lambda: hub_dir / "other")
    with pytest.raises(CheckpointError, match="SHA-256"):
        resolve_weights("bad")
    assert not [p for p in (hub_dir / "other").rglob("*") if p.is_file()]


def test_two_builds_in_one_process_read_the_checkpoint_once(tmp_path, monkeypatch):
    """A Ray worker runs many trials from one `model.weights` file: it is read once per process and file version."""
    tiny_checkpoint = write_random_checkpoint(tmp_path / "tiny.pt", model={"arch": "fbnetv3_a_dsmask_tiny"})
    reads: list[Path] = []
    real = hub.read_checkpoint
    monkeypatch.setattr(hub, "read_checkpoint", lambda path: reads.append(path) or real(path))
    hub._read_once.cache_clear()
    config = {"model": {"arch": "fbnetv3_a_dsmask_tiny", "weights": str(tiny_checkpoint), "freeze_at": 0}}
    first, second = build_detector(config, num_classes=3), build_detector(config, num_classes=3)
    assert len(reads) == 1
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values()))
    stat = tiny_checkpoint.stat()
    os.utime(tiny_checkpoint, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # a rewritten file (new mtime) is read again
    build_detector(config, num_classes=3)
    assert len(reads) == 2
