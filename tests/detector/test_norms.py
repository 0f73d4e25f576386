"""naiveSyncBN = BN over the union batch across processes (gloo, CPU, unequal batches); SyncBN conversion."""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from detector.modeling.norms import NaiveSyncBatchNorm, get_norm_layer, group_norm

BATCHES = [3, 1]  # unequal per-process batches on purpose


def _union_input() -> torch.Tensor:
    return torch.randn(sum(BATCHES), 6, 5, 4, generator=torch.Generator().manual_seed(0)) * 3 + 1


def _worker(rank: int, world: int, init_file: str, out_dir: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    torch.manual_seed(0)
    layer = NaiveSyncBatchNorm(6)
    with torch.no_grad():
        layer.weight.copy_(torch.linspace(0.5, 1.5, 6))
        layer.bias.copy_(torch.linspace(-1, 1, 6))
    start = sum(BATCHES[:rank])
    x = _union_input()[start : start + BATCHES[rank]].clone().requires_grad_(True)
    y = layer.train()(x)
    (y * torch.arange(y.numel()).view_as(y).float().sin()).sum().backward()
    from detector import build_detector

    model = build_detector({"model": {"arch": "fbnetv3_a_dsmask_tiny", "num_classes": 2, "weights": None, "norm": "SyncBN", "freeze_at": 0}})
    sync_layers = sum(isinstance(m, nn.SyncBatchNorm) for m in model.modules())
    torch.save(
        {"y": y.detach(), "x_grad": x.grad, "w_grad": layer.weight.grad, "mean": layer.running_mean, "var": layer.running_var, "sync_layers": sync_layers},
        f"{out_dir}/rank{rank}.pt",
    )
    dist.destroy_process_group()


def test_naive_sync_bn_matches_bn_over_the_union_batch(tmp_path):
    mp.spawn(_worker, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    results = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]

    reference = nn.BatchNorm2d(6)
    with torch.no_grad():
        reference.weight.copy_(torch.linspace(0.5, 1.5, 6))
        reference.bias.copy_(torch.linspace(-1, 1, 6))
    x = _union_input().requires_grad_(True)
    y = reference.train()(x)
    (y * torch.cat([torch.arange(b * 6 * 5 * 4).view(b, 6, 5, 4) for b in BATCHES]).float().sin()).sum().backward()

    assert torch.allclose(torch.cat([r["y"] for r in results]), y.detach(), atol=1e-5)
    assert torch.allclose(torch.cat([r["x_grad"] for r in results]), x.grad, atol=1e-5)
    # weight gradients are per-process partial sums (DDP all-reduces them); together they equal BN's
    assert torch.allclose(results[0]["w_grad"] + results[1]["w_grad"], reference.weight.grad, atol=1e-4)
    for r in results:
        assert torch.allclose(r["mean"], reference.running_mean, atol=1e-5)
        assert torch.allclose(r["var"], reference.running_var, atol=1e-5)
        assert r["sync_layers"] > 0, "norm SyncBN becomes torch's SyncBatchNorm once a process group exists"


def test_naive_sync_bn_is_plain_bn_on_one_process():
    torch.manual_seed(0)
    x = torch.randn(4, 3, 5, 5)
    naive, plain = NaiveSyncBatchNorm(3), nn.BatchNorm2d(3)
    assert torch.allclose(naive.train()(x), plain.train()(x)) and torch.allclose(naive.running_var, plain.running_var)
    assert set(naive.state_dict()) == set(plain.state_dict())


def test_group_norm_groups_divide_fbnet_widths():
    for channels in (8, 16, 40, 72, 112, 200, 1104):
        layer = group_norm(channels)
        assert channels % layer.num_groups == 0 and layer.num_groups <= 32


def test_unknown_norm_is_named():
    import pytest

    with pytest.raises(ValueError, match="unknown norm 'LN'; allowed: BN, SyncBN, naiveSyncBN, GN, FrozenBN"):
        get_norm_layer("LN")
