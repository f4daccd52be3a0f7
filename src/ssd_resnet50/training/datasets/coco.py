"""COCO-format detection annotations (an instances JSON and its image directory) as training samples.

    >>> source = CocoDetectionSource("instances_train2017.json", "train2017/")

Labels: the categories of the annotation file, in the file's order, become labels 1..K
(0 is background); for COCO that is the usual 80-class order. `classes` selects a subset by
name (or id) and takes the order given. Crowd annotations and boxes of unselected classes are
dropped; images left without boxes are skipped (they carry no training signal here).
"""
import contextlib
import io
import os

from ...model.categories import coco_label_set
from .source import DetectionSource


class CocoDetectionSource(DetectionSource):
    """Random-access COCO-format reader (see `DetectionSource` for how bad files are handled).

    Args:
        annotations: path of an instances json (COCO detection format).
        images: directory holding the images' `file_name`s.
        classes: optional names or ids of the categories to train; see `categories.coco_label_set`.
        labels: a `LabelSet` to use instead (say, the one a checkpoint was trained with);
            its ids are the file's category ids.
    """

    def __init__(self, annotations, images, classes=None, labels=None):
        from pycocotools.coco import COCO

        with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress to stdout
            self.coco = COCO(os.fspath(annotations))
        labels = labels or coco_label_set(self.coco.dataset.get("categories", []), classes)
        label_of = {category_id: k for k, category_id in enumerate(labels.ids, 1)}
        records = []  # (file name, [(label, [x, y, w, h]) ...]) of images that have boxes
        for image_id in sorted(self.coco.getImgIds()):
            info = self.coco.imgs[image_id]
            objects = []
            for ann in self.coco.imgToAnns.get(image_id, []):
                label = label_of.get(ann["category_id"])
                x, y, w, h = ann["bbox"]
                if label is None or ann.get("iscrowd", 0) or w <= 0 or h <= 0:
                    continue
                objects.append((label, (x, y, w, h)))
            if objects:
                records.append((info["file_name"], objects))
        super().__init__(records, labels, images, origin=annotations)
