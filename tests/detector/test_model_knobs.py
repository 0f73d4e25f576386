"""Every knob of the config really changes the built model, and the model behaves like torchvision's."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torchvision.ops import FrozenBatchNorm2d, StochasticDepth

from core.errors import ConfigError
from detector import build_detector
from detector.modeling.norms import NaiveSyncBatchNorm

TINY = {"arch": "fbnetv3_a_dsmask_tiny", "weights": None, "freeze_at": 0, "num_classes": 3}
SMALL_INPUT = {"min_size": 96, "max_size": 128}


def build(model: dict | None = None, **sections) -> nn.Module:
    torch.manual_seed(0)
    return build_detector({"model": {**TINY, **(model or {})}, "input": SMALL_INPUT, **sections})


def images(n: int = 2) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return [torch.rand(3, 96, 128, generator=generator) for _ in range(n)]


def targets(n: int = 2) -> list[dict[str, torch.Tensor]]:
    return [{"boxes": torch.tensor([[10.0, 12.0, 60.0, 70.0], [50.0, 20.0, 120.0, 90.0]]), "labels": torch.tensor([1, 3])} for _ in range(n)]


def proposals_of(model: nn.Module, batch: list[torch.Tensor]) -> list[torch.Tensor]:
    captured = {}
    hook = model.rpn.register_forward_hook(lambda m, a, out: captured.update(p=out[0]))
    try:
        with torch.no_grad():
            model(batch) if not model.training else model(batch, targets(len(batch)))
    finally:
        hook.remove()
    return captured["p"]


def test_behaves_like_a_torchvision_detector():
    model = build()
    losses = model.train()(images(), targets())
    assert set(losses) == {"loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg"}
    sum(losses.values()).backward()
    outputs = model.eval()(images())
    assert len(outputs) == 2 and set(outputs[0]) == {"boxes", "labels", "scores"}
    assert all(((o["labels"] >= 1) & (o["labels"] <= 3)).all() for o in outputs)


def test_num_classes_sets_the_predictor():
    model = build({"num_classes": 7})
    assert model.roi_heads.box_predictor.cls_score.out_features == 8
    assert model.roi_heads.box_predictor.bbox_pred.out_features == 32


def test_num_classes_must_come_from_somewhere():
    with pytest.raises(ConfigError, match="model.num_classes: not set"):
        build_detector({"model": {**TINY, "num_classes": None}})


@pytest.mark.parametrize("resolution", [4, 6, 8])
def test_pooler_resolution(resolution):
    model = build({"pooler_resolution": resolution}).eval()
    feature = torch.rand(1, model.backbone.out_channels, 8, 8)
    pooled = model.roi_heads.box_roi_pool({model.backbone.feature_name: feature}, [torch.tensor([[0.0, 0.0, 64.0, 64.0]])], [(128, 128)])
    assert pooled.shape[-2:] == (resolution, resolution)
    assert model.roi_heads.box_head(pooled).shape == (1, model.roi_heads.box_head.out_channels)


def test_pooler_alignment_and_sampling_ratio_change_pooled_features():
    feature = torch.rand(1, 40, 8, 8)
    box = [torch.tensor([[3.0, 5.0, 70.0, 50.0]])]
    pooled = {}
    for key, knobs in {"default": {}, "unaligned": {"pooler_aligned": False}, "sampling": {"pooler_sampling_ratio": 4}}.items():
        pool = build(knobs).roi_heads.box_roi_pool
        pooled[key] = pool({"trunk3": feature}, box, [(128, 128)])
    assert not torch.allclose(pooled["default"], pooled["unaligned"])
    assert not torch.allclose(pooled["default"], pooled["sampling"])


@pytest.mark.parametrize(
    "norm, layer",
    [("BN", nn.BatchNorm2d), ("SyncBN", nn.BatchNorm2d), ("naiveSyncBN", NaiveSyncBatchNorm), ("GN", nn.GroupNorm), ("FrozenBN", FrozenBatchNorm2d)],
)
def test_norm_is_used_in_trunk_and_towers(norm, layer):
    model = build({"norm": norm})
    for part in (model.backbone.body, model.rpn.head.tower, model.roi_heads.box_head.tower):
        kinds = {type(m) for m in part.modules() if isinstance(m, (nn.BatchNorm2d, nn.GroupNorm, FrozenBatchNorm2d))}
        assert kinds == {layer}
    if norm == "GN":
        assert all(m.num_channels % m.num_groups == 0 for m in model.modules() if isinstance(m, nn.GroupNorm))
    # a training step works with every norm on one process (SyncBN stays BN without a process group)
    sum(model.train()(images(), targets()).values()).backward()


@pytest.mark.parametrize("freeze_at", [0, 2, 4])
def test_freeze_at_keeps_weights_and_statistics_of_frozen_stages(freeze_at):
    model = build({"freeze_at": freeze_at, "norm": "BN"}).train()
    before = {k: v.clone() for k, v in model.backbone.body.state_dict().items()}
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    sum(model(images(), targets()).values()).backward()
    optimizer.step()
    after = model.backbone.body.state_dict()
    for stage in range(4):
        keys = [k for k in before if k.startswith(f"trunk{stage}.") and not k.endswith("num_batches_tracked")]
        unchanged = all(torch.equal(before[k], after[k]) for k in keys)
        assert unchanged == (stage < freeze_at), f"stage {stage} with freeze_at={freeze_at}"


@pytest.mark.parametrize(
    "thresholds, rpn_codes, roi_codes",
    [
        ((0.3, 0.7), [-1, -2, 0, 0], [-1, -2, 0]),
        ((0.5, 0.5), [-1, 0, 0, 0], [-1, 0, 0]),
        ((0.1, 0.9), [-2, -2, -2, 0], [-2, -2, -2]),
    ],
)
def test_iou_bounds_label_background_ignored_and_object(thresholds, rpn_codes, roi_codes):
    """Matcher codes: -1 = below lower (background), -2 = between (ignored), >= 0 = object.

    The RPN also keeps the best anchor of each object (low-quality matches), as d2go does.
    """
    model = build({"rpn": {"iou_thresholds": list(thresholds)}, "roi_heads": {"iou_thresholds": list(thresholds)}})
    assert model.rpn.proposal_matcher(torch.tensor([[0.2, 0.5, 0.8, 0.95]])).tolist() == rpn_codes
    assert model.roi_heads.proposal_matcher(torch.tensor([[0.2, 0.5, 0.8]])).tolist() == roi_codes


def test_roi_heads_ignore_proposals_between_bounds():
    model = build({"roi_heads": {"iou_thresholds": [0.3, 0.7]}})
    gt = targets(1)
    proposals = [torch.tensor([[10.0, 12.0, 60.0, 70.0], [10.0, 12.0, 40.0, 70.0], [100.0, 100.0, 110.0, 110.0]])]
    _, labels = model.roi_heads.assign_targets_to_proposals(proposals, [gt[0]["boxes"]], [gt[0]["labels"]])
    assert labels[0].tolist() == [1, -1, 0]  # IoU 1.0 -> object, 0.6 -> ignored (-1), 0 -> background


@pytest.mark.parametrize("post_nms", [5, 12])
def test_post_nms_topk_test_limits_proposals(post_nms):
    model = build({"rpn": {"post_nms_topk_test": post_nms}}).eval()
    assert [len(p) for p in proposals_of(model, images())] == [post_nms, post_nms]


def test_pre_nms_topk_test_limits_candidates():
    few = build({"rpn": {"pre_nms_topk_test": 3, "post_nms_topk_test": 100}}).eval()
    assert max(len(p) for p in proposals_of(few, images())) <= 3


def test_train_topk_are_used_in_training_mode():
    model = build({"rpn": {"pre_nms_topk_train": 50, "post_nms_topk_train": 7, "post_nms_topk_test": 30}}).train()
    assert [len(p) for p in proposals_of(model, images())] == [7, 7]
    assert model.rpn._pre_nms_top_n == {"training": 50, "testing": 1000}


def test_rpn_nms_threshold_changes_kept_proposals():
    counts = []
    for thresh in (0.3, 0.95):
        model = build({"rpn": {"nms_thresh": thresh, "post_nms_topk_test": 1000}}).eval()
        counts.append(len(proposals_of(model, images(1))[0]))
    assert counts[0] < counts[1]


def test_sampling_knobs_reach_the_samplers():
    model = build({"rpn": {"batch_size_per_image": 64, "positive_fraction": 0.25}, "roi_heads": {"batch_size_per_image": 32, "positive_fraction": 0.5}})
    assert (model.rpn.fg_bg_sampler.batch_size_per_image, model.rpn.fg_bg_sampler.positive_fraction) == (64, 0.25)
    assert (model.roi_heads.fg_bg_sampler.batch_size_per_image, model.roi_heads.fg_bg_sampler.positive_fraction) == (32, 0.5)


def test_anchor_sizes_and_ratios_set_anchors_per_location():
    model = build({"rpn": {"anchor_sizes": [16, 48], "aspect_ratios": [1.0]}})
    assert model.rpn.head.cls_logits.out_channels == 2 and model.rpn.head.bbox_pred.out_channels == 8
    cell = model.rpn.anchor_generator.cell_anchors[0]
    assert torch.allclose(cell, torch.tensor([[-8.0, -8.0, 8.0, 8.0], [-24.0, -24.0, 24.0, 24.0]]))


def test_score_threshold_and_detections_per_image():
    loose = build({"roi_heads": {"score_thresh": 0.0, "detections_per_img": 4}}).eval()
    with torch.no_grad():
        outputs = loose(images())
    assert all(len(o["boxes"]) == 4 for o in outputs)
    strict = build({"roi_heads": {"score_thresh": 0.999}}).eval()
    with torch.no_grad():
        assert all(len(o["boxes"]) == 0 for o in strict(images()))


def test_roi_nms_threshold_reaches_postprocessing():
    assert build({"roi_heads": {"nms_thresh": 0.3}}).roi_heads.nms_thresh == 0.3


def test_input_sizes_resize_images():
    model = build_detector({"model": TINY, "input": {"min_size": 64, "max_size": 200, "min_size_train": [48, 80]}}).eval()
    batch, _ = model.transform([torch.rand(3, 100, 150)])
    assert batch.image_sizes == [(64, 96)]
    model.train()
    sizes = {model.transform([torch.rand(3, 100, 150)])[0].image_sizes[0][0] for _ in range(30)}
    assert sizes == {48, 80}


def test_pixel_mean_and_std_normalise_bgr():
    model = build({"pixel_mean": [0.0, 0.0, 0.0], "pixel_std": [2.0, 2.0, 2.0]})
    image = torch.zeros(3, 4, 4)
    image[0] = 1.0  # pure red in RGB
    normalised = model.transform.normalize(image)
    assert normalised[2].eq(127.5).all() and normalised[:2].eq(0).all()  # red is the last BGR channel


def test_drop_path_and_box_head_dropout():
    model = build({"drop_path_rate": 0.2, "box_head_dropout": 0.3})
    rates = [m.p for m in model.modules() if isinstance(m, StochasticDepth)]
    assert rates and max(rates) <= 0.2 and rates == sorted(rates)
    assert isinstance(model.roi_heads.box_head.dropout, nn.Dropout) and model.roi_heads.box_head.dropout.p == 0.3
    assert not any(isinstance(m, StochasticDepth) for m in build().modules())


@pytest.mark.parametrize("arch", ["fbnetv3_a_dsmask", "fbnetv3_a", "fbnetv3_a_c5"])
def test_named_archs_build_and_run(arch):
    model = build({"arch": arch}).eval()
    with torch.no_grad():
        assert len(model(images(1))) == 1
    if arch.endswith("_c5"):
        assert model.backbone.stride == 32 and model.roi_heads.box_roi_pool.spatial_scale == 1 / 32
