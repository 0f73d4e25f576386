"""COCO data for FBNetV3OD: reading and checking annotation files, images in any mode, the validating dataset,
box-aware transforms and loaders, data-set paths, class-stratified subsets and the synthetic shapes data set."""

from __future__ import annotations

from core.lazy import lazy_exports

_EXPORTS = {
    "CocoDetection": "detector.data.dataset",
    "DataWarning": "detector.data.dataset",
    "build_dataloader": "detector.data.loader",
    "build_transforms": "detector.data.loader",
    "collate_detection": "detector.data.loader",
    "load_rgb_image": "detector.data.images",
    "pil_to_rgb_tensor": "detector.data.images",
    "find_images": "detector.data.images",
    "DataPaths": "detector.data.paths",
    "resolve_data_paths": "detector.data.paths",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
