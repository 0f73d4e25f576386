"""The original d2go model's tensors on a fixed input, reproduced through our loader and model.

Tolerances are those of ../shared/reference/fixtures/README.md. Each stage is fed the expected
input of that stage to localise a mismatch; the full model is then run end to end.
"""

from __future__ import annotations

import pytest
import torch

from detector import build_detector

CASES = [("faster_rcnn_fbnetv3a_dsmask_C4", "fbnetv3_a_dsmask"), ("faster_rcnn_fbnetv3a_C4", "fbnetv3_a")]


def _close(got: torch.Tensor, expected: torch.Tensor) -> None:
    limit = 1e-4 * max(1.0, expected.abs().max().item())
    assert got.shape == expected.shape
    assert (got - expected).abs().max().item() <= limit


@pytest.fixture(scope="module", params=CASES, ids=[c[1] for c in CASES])
def loaded(request, fixtures_dir):
    name, arch = request.param
    config = {"model": {"arch": arch, "num_classes": 80, "weights": str(fixtures_dir / f"{name}_random_init.pth"), "freeze_at": 0}}
    model = build_detector(config).eval()
    expected = torch.load(fixtures_dir / f"{name}_expected.pt", weights_only=True)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # for this module's tests only: the later ones get the session's threads back
    yield model, expected
    torch.set_num_threads(threads)


def _rgb(expected: dict[str, torch.Tensor]) -> torch.Tensor:
    return expected["input_bgr"].flip(0) / 255.0


def test_input_convention(loaded):
    model, exp = loaded
    images, _ = model.transform([_rgb(exp)])
    assert torch.equal(images.tensors, exp["normalized_input"])


def test_trunk_stages(loaded):
    model, exp = loaded
    with torch.no_grad():
        features = model.backbone.body(exp["normalized_input"])
    _close(features["trunk0"][..., :28, :40], exp["trunk0_crop"])
    _close(features["trunk1"], exp["trunk1"])
    _close(features["trunk2"], exp["trunk2"])
    _close(features["trunk3"], exp["trunk_out"])


def test_rpn_head_and_anchors(loaded):
    model, exp = loaded
    with torch.no_grad():
        objectness, deltas = model.rpn.head([exp["trunk_out"]])
        images, _ = model.transform([_rgb(exp)])
        anchors = model.rpn.anchor_generator(images, [exp["trunk_out"]])[0]
    _close(objectness[0], exp["rpn_objectness"])
    _close(deltas[0], exp["rpn_deltas"])
    assert torch.allclose(anchors, exp["anchors"], atol=1e-4)


def test_roi_pooling_box_head_and_predictor(loaded):
    model, exp = loaded
    with torch.no_grad():
        pooled = model.roi_heads.box_roi_pool({"trunk3": exp["trunk_out"]}, [exp["rois"]], [(224, 320)])
        features = model.roi_heads.box_head(exp["box_pooled"])
        cls, deltas = model.roi_heads.box_predictor(exp["box_features"])
    assert torch.allclose(pooled, exp["box_pooled"], atol=1e-4)
    _close(features, exp["box_features"])
    # torchvision layout: background first, 4 unused background box rows.
    _close(torch.cat([cls[:, 1:], cls[:, :1]], dim=1), exp["cls_logits"])
    _close(deltas[:, 4:], exp["bbox_deltas"])


def test_rpn_proposals(loaded):
    model, exp = loaded
    captured = {}
    hook = model.rpn.register_forward_hook(lambda module, args, output: captured.update(proposals=output[0][0]))
    try:
        with torch.no_grad():
            model([_rgb(exp)])
    finally:
        hook.remove()
    assert torch.allclose(captured["proposals"], exp["proposal_boxes"], atol=1e-2)


def test_end_to_end_detections(loaded):
    model, exp = loaded
    with torch.no_grad():
        out = model([_rgb(exp)])[0]
    assert len(out["boxes"]) == len(exp["final_boxes"])
    assert torch.equal(out["labels"] - 1, exp["final_classes"].long())
    assert torch.allclose(out["boxes"], exp["final_boxes"], atol=1e-2)
    assert torch.allclose(out["scores"], exp["final_scores"], atol=1e-4)
