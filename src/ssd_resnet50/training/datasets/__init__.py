"""Training-data readers: each turns an annotation format into the same `Sample`s."""
from .coco import CocoDetectionSource
from .source import DetectionSource, Sample

__all__ = ["CocoDetectionSource", "DetectionSource", "Sample"]
