"""COCO-format detection annotations (an instances JSON and its image directory) as training samples.

    >>> source = CocoDetectionSource("instances_train2017.json", "train2017/")

Labels: the categories of the annotation file, in the file's order, become labels 1..K
(0 is background); for COCO that is the usual 80-class order. `classes` selects a subset by
name (or id) and takes the order given. Boxes of unselected classes are dropped; crowd boxes are
never training targets (a validation on the set ignores them, as COCO's evaluation does); images
without boxes are not drawn for training (they carry no training signal here) but are validated on.
"""
import contextlib
import io
import os

from ...model.categories import coco_label_set
from .source import BoxChecks, DataError, DetectionSource, ImageRecord, image_size


class CocoDetectionSource(DetectionSource):
    """Random-access COCO-format reader (see `DetectionSource` for how bad files are handled).

    Args:
        annotations: path of an instances json (COCO detection format).
        images: directory holding the images' `file_name`s.
        classes: optional names or ids of the categories to train; see `categories.coco_label_set`.
        labels: a `LabelSet` to use instead (say, the one a checkpoint was trained with);
            its ids are the file's category ids.
        require_boxes: False accepts a set without any usable box (a validation set).
    """

    def __init__(self, annotations, images, classes=None, labels=None, require_boxes=True):
        from pycocotools.coco import COCO

        with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress to stdout
            self.coco = COCO(os.fspath(annotations))
        categories = self.coco.dataset.get("categories", [])
        labels = labels or coco_label_set(categories, classes)
        label_of = {category_id: k for k, category_id in enumerate(labels.ids, 1)}
        known = {int(c["id"]) for c in categories}
        checks = BoxChecks(os.fspath(annotations))
        records = []
        for image_id in sorted(self.coco.getImgIds()):
            info = self.coco.imgs[image_id]
            width, height = info.get("width"), info.get("height")
            if not width or not height:
                width, height = image_size(os.path.join(images, info["file_name"])) or (0, 0)
            objects, ignored = [], []
            for ann in self.coco.imgToAnns.get(image_id, []):
                where = f"{annotations}: annotation {ann.get('id')} (image {info['file_name']})"
                if ann["category_id"] not in known:
                    raise DataError(f"{where}: category_id {ann['category_id']} is not in the file's categories")
                label = label_of.get(ann["category_id"])
                if label is None:
                    continue
                box = checks.box(*ann["bbox"], width or float("inf"), height or float("inf"), where)
                if box is not None:
                    (ignored if ann.get("iscrowd", 0) else objects).append((label, box))
            records.append(ImageRecord(info["file_name"], width, height, tuple(objects), tuple(ignored)))
        checks.report()
        super().__init__(records, labels, images, origin=annotations, require_boxes=require_boxes)
