"""COCO-format detection data -> batches of (image, encoded boxes, anchor labels) for training.

    >>> source = CocoDetectionSource("instances_train2017.json", "train2017/")
    >>> dataset = create_train_dataset(source, config, batch_size=32)
    >>> for images, loc_targets, labels in dataset.create_tuple_iterator(): ...

Labels: the categories of the annotation file, in the file's order, become labels 1..K
(0 is background); for COCO that is the usual 80-class order. `classes` selects a subset by
name (or id) and takes the order given. Crowd annotations and boxes of unselected classes are
dropped; images left without boxes are skipped (they carry no training signal here).

Bad files do not stop a run: images missing from the directory are left out at start-up (one
warning with the count and the first names), and an image that fails to decode is reported
once by name and replaced, whenever it is drawn, by the next readable image of the set.
"""
import logging
import os
import threading
from typing import NamedTuple

import numpy as np
import mindspore.dataset as ds

from .anchors import default_anchors
from .augment import TrainAugmentation
from .categories import coco_label_set
from .config import SsdConfig
from .matching import match
from .preprocess import ImageError, normalise, read_image

log = logging.getLogger(__name__)
MISSING_SHOWN = 5  # names quoted in the start-up warning about missing files

class Sample(NamedTuple):
    image: np.ndarray  # RGB uint8 [H, W, 3]
    boxes: np.ndarray  # float32 [M, 4] corners (y1, x1, y2, x2) normalised to the image
    labels: np.ndarray  # int32 [M], 1..K


class CocoDetectionSource:
    """Random-access COCO-format reader (a `mindspore.dataset.GeneratorDataset` source).

    Args:
        annotations: path of an instances json (COCO detection format).
        images: directory holding the images' `file_name`s.
        classes: optional names or ids of the categories to train; see `categories.coco_label_set`.
        labels: a `LabelSet` to use instead (say, the one a checkpoint was trained with);
            its ids are the file's category ids.
    """

    def __init__(self, annotations, images, classes=None, labels=None):
        from pycocotools.coco import COCO

        self.images_dir = os.fspath(images)
        self.coco = _quiet(COCO, os.fspath(annotations))
        self.labels = labels or coco_label_set(self.coco.dataset.get("categories", []), classes)
        label_of = {category_id: k for k, category_id in enumerate(self.labels.ids, 1)}
        self.records = []  # (file name, [(label, [x, y, w, h]) ...]) of images that have boxes
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
                self.records.append((info["file_name"], objects))
        if not self.records:
            raise ValueError(f"{annotations}: no image has a usable (non-crowd, selected) box")
        self.records = self._drop_missing_files(self.records)
        self.unreadable = set()  # file names that failed to decode, each reported once
        self._lock = threading.Lock()

    def _drop_missing_files(self, records):
        """The records whose image file exists; one warning names the missing ones."""
        exists = [os.path.isfile(os.path.join(self.images_dir, name)) for name, _ in records]
        missing = [name for (name, _), found in zip(records, exists) if not found]
        shown = ", ".join(missing[:MISSING_SHOWN]) + (", ..." if len(missing) > MISSING_SHOWN else "")
        if len(missing) == len(records):
            raise ValueError(f"none of the {len(records)} images with boxes is in {self.images_dir} "
                             f"(looked for {shown})")
        if missing:
            log.warning("%d of %d training images are missing from %s and left out: %s",
                        len(missing), len(records), self.images_dir, shown)
        return [record for record, found in zip(records, exists) if found]

    def __len__(self):
        return len(self.records)

    def sample(self, index) -> Sample:
        """The sample at `index`; if its image cannot be decoded, the next readable one after it."""
        for offset in range(len(self.records)):
            candidate = (index + offset) % len(self.records)
            file_name = self.records[candidate][0]
            if file_name in self.unreadable:
                continue
            path = os.path.join(self.images_dir, file_name)
            try:
                return self._decode(candidate, read_image(path))
            except ImageError as error:
                with self._lock:
                    first = file_name not in self.unreadable
                    self.unreadable.add(file_name)
                if first:  # the message names the file
                    log.warning("skipping a training image: %s; the next readable image takes its place", error)
        raise ImageError(f"none of the {len(self.records)} training images in {self.images_dir} can be read "
                         f"as an image")

    def _decode(self, index, image) -> Sample:
        _, objects = self.records[index]
        height, width = image.shape[:2]
        xywh = np.array([box for _, box in objects], np.float64)
        corners = np.stack([xywh[:, 1] / height, xywh[:, 0] / width,
                            (xywh[:, 1] + xywh[:, 3]) / height, (xywh[:, 0] + xywh[:, 2]) / width], axis=1)
        corners = np.clip(corners, 0.0, 1.0)
        keep = (corners[:, 2] > corners[:, 0]) & (corners[:, 3] > corners[:, 1])  # inside the image
        labels = np.array([label for label, _ in objects], np.int32)
        return Sample(image, corners[keep].astype(np.float32), labels[keep])

    def __getitem__(self, index):
        return tuple(self.sample(index))


class TrainTransform:
    """One sample -> (network input [3, h, w] float32, loc targets [N, 4], anchor labels [N])."""

    def __init__(self, config: SsdConfig, augment=None):
        self.config = config
        self.anchors = default_anchors(config)
        self.augment = augment

    def __call__(self, image, boxes, labels):
        if self.augment is not None:
            image, boxes, labels = self.augment(image, boxes, labels)
        targets = match(boxes, labels, self.anchors, self.config.match_iou_threshold, self.config.prior_scaling)
        return normalise(image, self.config), targets.loc, targets.labels


def create_train_dataset(source, config: SsdConfig, batch_size, augment=True, seed=None, shuffle=True,
                         num_shards=None, shard_id=None, num_workers=1, drop_remainder=True):
    """A batched `mindspore.dataset` of (image, loc targets, labels) for `SsdWithLoss`.

    With `num_shards`/`shard_id` (data-parallel training) each worker reads its own part.
    `augment` is True (the original recipe), False, or a callable like `TrainAugmentation`.
    `num_workers` > 1 transforms images in parallel threads sharing the augmentation's random
    generator: faster, but a seed then no longer fixes which image gets which augmentation.
    """
    if augment is True:
        augment = TrainAugmentation(seed=None if seed is None else [seed, shard_id or 0])
    dataset = ds.GeneratorDataset(source, ["image", "boxes", "labels"], shuffle=shuffle,
                                  num_shards=num_shards, shard_id=shard_id)
    dataset = dataset.map(TrainTransform(config, augment or None), input_columns=["image", "boxes", "labels"],
                          output_columns=["image", "loc", "labels"], num_parallel_workers=num_workers)
    return dataset.batch(batch_size, drop_remainder=drop_remainder)


def _quiet(function, *args):
    """pycocotools prints progress to stdout; keep the training log readable."""
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        return function(*args)
