"""The data sets of a training run: train and val from `DataPaths` (the whole splits, or the seeded
class-stratified slices that `DataPaths.max_*_images` ask for), checked to share one category list, and
the config's class count taken from them."""

from __future__ import annotations

from core.errors import ConfigError, DataError
from detector.config import DetectorConfig
from detector.data.dataset import CocoDetection
from detector.data.loader import build_transforms
from detector.data.paths import DataPaths
from detector.data.subset import subset_of_file


def load_datasets(config: DetectorConfig, paths: DataPaths) -> tuple[CocoDetection, CocoDetection | None]:
    """The training set (with the config's augmentation) and the validation set, if any."""
    train_set = CocoDetection(paths.train_json, paths.train_images, build_transforms(config.train.augment, train=True),
                              image_ids=subset_of_file(paths.train_json, paths.max_train_images, paths.subset_seed))
    val_set = None
    if paths.val_json is not None:
        val_set = CocoDetection(paths.val_json, paths.val_images or paths.train_images, transforms=None,
                                image_ids=subset_of_file(paths.val_json, paths.max_val_images, paths.subset_seed))
        if val_set.label_to_category_id != train_set.label_to_category_id or val_set.class_names != train_set.class_names:
            raise DataError(
                f"{paths.val_json} has categories {val_set.class_names} (ids {sorted(val_set.category_id_to_label)}) "
                f"but {paths.train_json} has {train_set.class_names} (ids {sorted(train_set.category_id_to_label)}); "
                "train and val must share one category list"
            )
    return train_set, val_set


def config_for_data(config: DetectorConfig, train_set: CocoDetection) -> DetectorConfig:
    """The config with the data's class count; a different `model.num_classes` in the config is an error."""
    k = train_set.num_classes
    if config.model.num_classes is not None and config.model.num_classes != k:
        raise ConfigError(
            f"model.num_classes is {config.model.num_classes} but {train_set.ann_file} has {k} categories "
            f"({', '.join(train_set.class_names)}); set model.num_classes to {k} or leave it unset (null)"
        )
    return config.with_num_classes(k)
