"""The data sets of a training run: train and val from `DataPaths` (the whole splits, or the seeded
class-stratified slices that `DataPaths.max_*_images` ask for) and the held-out test split, checked to share
one category list, and the config's class count taken from them."""

from __future__ import annotations

from core.errors import ConfigError, DataError
from detector.config import DetectorConfig
from detector.data.dataset import CocoDetection
from detector.data.loader import build_transforms
from detector.data.paths import DataPaths, SplitFiles
from detector.data.subset import subset_of_file


def load_datasets(config: DetectorConfig, paths: DataPaths) -> tuple[CocoDetection, CocoDetection | None]:
    """The training set (with the config's augmentation) and the validation set, if any."""
    train_set = CocoDetection(paths.train_json, paths.train_images, build_transforms(config.train.augment, train=True),
                              image_ids=subset_of_file(paths.train_json, paths.max_train_images, paths.subset_seed))
    val_set = None
    if paths.val_json is not None:
        val_set = CocoDetection(paths.val_json, paths.val_images or paths.train_images, transforms=None,
                                image_ids=subset_of_file(paths.val_json, paths.max_val_images, paths.subset_seed))
        _check_categories(val_set, train_set, "val")
    return train_set, val_set


def load_test_set(test: SplitFiles, train_set: CocoDetection) -> CocoDetection:
    """The held-out test split (whole, no augmentation), checked against the training set's categories; reading it
    decodes no image, so a bad file stops the run before training rather than after."""
    test_set = CocoDetection(test.ann_file, test.image_dir, transforms=None)
    _check_categories(test_set, train_set, "test")
    return test_set


def _check_categories(other: CocoDetection, train_set: CocoDetection, split: str) -> None:
    """`other` must have the training set's category list (names and ids): labels mean the same class in both."""
    if other.label_to_category_id != train_set.label_to_category_id or other.class_names != train_set.class_names:
        raise DataError(
            f"{other.ann_file} has categories {other.class_names} (ids {sorted(other.category_id_to_label)}) "
            f"but {train_set.ann_file} has {train_set.class_names} (ids {sorted(train_set.category_id_to_label)}); "
            f"train and {split} must share one category list"
        )


def config_for_data(config: DetectorConfig, train_set: CocoDetection) -> DetectorConfig:
    """The config with the data's class count; a different `model.num_classes` in the config is an error."""
    k = train_set.num_classes
    if config.model.num_classes is not None and config.model.num_classes != k:
        raise ConfigError(
            f"model.num_classes is {config.model.num_classes} but {train_set.ann_file} has {k} categories "
            f"({', '.join(train_set.class_names)}); set model.num_classes to {k} or leave it unset (null)"
        )
    return config.with_num_classes(k)
