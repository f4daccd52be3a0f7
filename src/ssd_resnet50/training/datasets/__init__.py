"""Training-data readers: each turns an annotation format (COCO JSON, Pascal VOC XML, YOLO txt)
into the same `Sample`s; `open_source` picks the reader from the path."""
from .coco import CocoDetectionSource
from .formats import FORMATS, detect_format, open_source, write_coco
from .source import DataError, DetectionSource, ImageRecord, Sample
from .voc import VocDetectionSource
from .yolo import YoloDetectionSource

__all__ = ["CocoDetectionSource", "DataError", "DetectionSource", "FORMATS", "ImageRecord", "Sample",
           "VocDetectionSource", "YoloDetectionSource", "detect_format", "open_source",
           "write_coco"]
