"""Measuring a detector: COCO box AP (pycocotools), per-class table, confusion matrix, the report's figures, the metric
names, and drawing detections on images."""
