"""Measuring a detector: COCO box AP (pycocotools), the metric names, and drawing detections on images."""
