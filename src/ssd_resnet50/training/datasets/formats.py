"""One entry to the readers: the format of a data set told from its path, and the reader opened.

    >>> source = open_source("pets/instances.json", images="pets/images")      # COCO
    >>> source = open_source("VOCdevkit/VOC2012", split="val")                  # Pascal VOC
    >>> source = open_source("shapes/data.yaml")                                # YOLO

COCO: a `.json` file (and `images`, the folder of its file names). Pascal VOC: a VOCdevkit year
folder, one of its `ImageSets/Main/*.txt` split files, or a folder of `.xml` files. YOLO: a
`data.yaml` or the folder holding it (with `images/` and `labels/`).
"""
import glob
import json
import os

from .coco import CocoDetectionSource
from .voc import VocDetectionSource
from .yolo import DATA_FILES, YoloDetectionSource

READERS = {"coco": CocoDetectionSource, "voc": VocDetectionSource, "yolo": YoloDetectionSource}
FORMATS = tuple(READERS)


def detect_format(path) -> str:
    """"coco", "voc" or "yolo" from what lies at `path`; ValueError when it cannot tell."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"data set not found: {path}")
    if os.path.isfile(path):
        extension = os.path.splitext(path)[1].lower()
        found = {".json": "coco", ".yaml": "yolo", ".yml": "yolo", ".txt": "voc"}.get(extension)
    elif any(os.path.isfile(os.path.join(path, name)) for name in DATA_FILES):
        found = "yolo"
    elif os.path.isdir(os.path.join(path, "Annotations")) or glob.glob(os.path.join(path, "*.xml")):
        found = "voc"
    else:
        found = None
    if found is None:
        raise ValueError(f"cannot tell the format of {path}: expected a COCO .json, a VOC folder (Annotations/ or "
                         f".xml files) or split .txt, or a YOLO data.yaml; name it with --format coco|voc|yolo")
    return found


def open_source(path, images=None, format=None, split="train", classes=None, labels=None, require_boxes=True):
    """The reader of `format` (default: `detect_format(path)`) opened on `path`.

    `split` picks a split of a VOCdevkit folder or a data.yaml ("train", "val"); `classes` and
    `labels` as the readers take them.
    """
    format = format or detect_format(path)
    if format not in READERS:
        raise ValueError(f"unknown data format {format!r}; choose one of {', '.join(FORMATS)}")
    if format == "coco":
        if not images:
            raise ValueError(f"{path}: a COCO annotation file needs the folder of its images (--images DIR)")
        return CocoDetectionSource(path, images, classes=classes, labels=labels, require_boxes=require_boxes)
    return READERS[format](path, images=images, split=split, classes=classes, labels=labels,
                           require_boxes=require_boxes)


def write_coco(source, path) -> dict:
    """Write `source.to_coco()` to `path` (under a temporary name, then renamed); returns the dict."""
    data = source.to_coco()
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    partial = os.path.join(directory, f".{os.path.basename(path)}.partial")
    with open(partial, "w") as f:
        json.dump(data, f)
    os.replace(partial, path)
    return data
