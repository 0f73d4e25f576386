"""Run an exported FBNetV3OD ONNX file (fp32 or int8) with ONNX Runtime behind the detector's interface.

`detector.export` stores what a deployed file needs beside the graph in the ONNX model's
`metadata_props` (class names, category ids, input size, precision), so that
`detector.evaluate --model X.onnx` and `detector.predict --model X.onnx` can run the file with
no checkpoint and no PyTorch model: ONNX Runtime is all the deployed model needs.
`ExportedDetector` takes a list of images and returns torchvision's list of
`{"boxes", "labels", "scores"}`, so every consumer of a detector runs an exported file unchanged.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from core.errors import CheckpointError, UserError

METADATA_KEY = "fbnetv3od"
"""One `metadata_props` entry holding a JSON object: the export's own facts."""
EXPORT_FORMAT = "fbnetv3od-onnx-v1"


def require_onnxruntime() -> Any:
    """The `onnxruntime` module, or one line saying how to install it (the `deploy` extra)."""
    try:
        import onnxruntime
    except ImportError:
        raise UserError("running or quantizing an ONNX model needs onnxruntime: pip install 'fbnetv3od-nars[deploy]'") from None
    return onnxruntime


def onnx_session(path: str | os.PathLike[str], threads: int | None = None) -> Any:
    """An ONNX Runtime CPU session of `path`; `threads` fixes the intra-op thread count (default: ORT's)."""
    ort = require_onnxruntime()
    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    state = ort.capi.onnxruntime_pybind11_state
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except (state.Fail, state.InvalidProtobuf, state.InvalidGraph, state.NoSuchFile, state.InvalidArgument) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: ONNX Runtime cannot load it ({first})") from None


def add_metadata(model: Any, metadata: Mapping[str, Any]) -> None:
    """Store `metadata` (JSON-able) in the `onnx.ModelProto`'s `metadata_props`, replacing an older entry."""
    kept = [p for p in model.metadata_props if p.key != METADATA_KEY]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps({"format": EXPORT_FORMAT, **metadata}, sort_keys=True)


def read_metadata(session: Any, path: str | os.PathLike[str]) -> dict[str, Any]:
    """The export's facts from a session's model metadata; a file that `detector.export` did not write is refused."""
    raw = session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
    try:
        metadata = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        metadata = {}
    if metadata.get("format") != EXPORT_FORMAT:
        raise CheckpointError(f"{path}: not an FBNetV3OD export (no '{EXPORT_FORMAT}' metadata); write it with python -m detector.export")
    return metadata


def run_session(session: Any, image: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """`(boxes, labels, scores)` of one float RGB image [3, H, W] in [0, 1]."""
    boxes, labels, scores = session.run(None, {"image": image.detach().cpu().float().numpy()})
    return torch.from_numpy(boxes), torch.from_numpy(labels), torch.from_numpy(scores)


class ExportedDetector(nn.Module):
    """An exported ONNX file as a detector: `model(images)` -> `[{"boxes", "labels", "scores"}]`.

    It has no parameters; `eval()`/`train()` only keep the interface (the graph is always inference).
    `class_names` and `label_to_category_id` come from the file, as from a checkpoint.
    """

    def __init__(self, path: str | os.PathLike[str], threads: int | None = None) -> None:
        super().__init__()
        self.path = Path(path)
        if not self.path.is_file():
            raise CheckpointError(f"{self.path}: model file not found")
        self.session = onnx_session(self.path, threads)
        self.metadata = read_metadata(self.session, self.path)
        self.class_names: list[str] = list(self.metadata.get("class_names", []))
        self.label_to_category_id = {int(k): int(v) for k, v in self.metadata.get("label_to_category_id", {}).items()}
        self.precision: str = self.metadata.get("precision", "fp32")

    def forward(self, images: Sequence[Tensor]) -> list[dict[str, Tensor]]:
        outputs = []
        for image in images:
            boxes, labels, scores = run_session(self.session, image)
            outputs.append({"boxes": boxes, "labels": labels, "scores": scores})
        return outputs


class InferenceModel(NamedTuple):
    """What `open_for_inference` opens: the model and the facts its consumers need beside it."""

    model: nn.Module
    class_names: list[str]
    label_to_category_id: dict[int, int]
    weights: str
    """`ema`, `model`, `onnx fp32` or `onnx int8`."""
    eval_batch_size: int
    """The batch the training run evaluated with (`train.batch_size`); 1 for an ONNX file, which runs one image at
    a time. torchvision pads a batch to its largest image, and the padding moves box AP by up to about 1 on a small
    validation set, so `detector.evaluate` defaults to this batch to reproduce the AP the training logged."""


def open_for_inference(
    checkpoint: str | os.PathLike[str] | None = None,
    exported: str | os.PathLike[str] | None = None,
    *,
    device: str | torch.device = "cpu",
    use_ema: bool = True,
    threads: int | None = None,
) -> InferenceModel:
    """The model that `detector.evaluate` / `detector.predict` run, from a checkpoint (its inference copy:
    BN folded, channels-last) or an exported ONNX file."""
    if (checkpoint is None) == (exported is None):
        raise ValueError("give exactly one of checkpoint and exported")
    if exported is not None:
        model = ExportedDetector(exported, threads=threads)
        return InferenceModel(model, model.class_names, model.label_to_category_id, f"onnx {model.precision}", 1)
    from detector.modeling.inference import optimize_for_inference
    from detector.training.checkpoint import model_from_checkpoint

    detector, data = model_from_checkpoint(checkpoint, device=device, use_ema=use_ema)
    weights = "ema" if data.get("ema_model") and use_ema else "model"
    category_ids = {int(k): int(v) for k, v in (data.get("label_to_category_id") or {}).items()}
    batch = int(data["config"]["train"]["batch_size"])  # the resolved config: every field is present
    return InferenceModel(optimize_for_inference(detector), list(data["class_names"]), category_ids, weights, batch)
