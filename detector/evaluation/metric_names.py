"""The names of the COCO box metrics, in one light module: the evaluation writes them, the training log, the
curves, the search's tables and its experiment schema read them (without loading pycocotools or torch)."""

from __future__ import annotations

METRIC_KEYS = ("ap", "ap50", "ap75", "aps", "apm", "apl")
"""AP, AP50, AP75, AP small / medium / large, in percent: the order of `COCOeval.stats[0:6]`."""
AP_KEYS = METRIC_KEYS[:3]
"""The headline APs a search can maximise and its tables keep."""
