"""What every training-data reader gives the pipeline: `Sample`s, by index, from image records.

A reader (COCO JSON, Pascal VOC XML, YOLO txt) only turns its files into `ImageRecord`s (file
name, size, boxes in pixels) and a `LabelSet`, checking boxes with `BoxChecks` on the way;
reading the images, leaving out missing files, stepping over undecodable ones, holding out a
validation share and writing the set as COCO JSON are the same for all of them.
"""
import logging
import os
import threading
from typing import NamedTuple

import numpy as np

from ...inference.preprocess import ImageError, read_image

log = logging.getLogger(__name__)
MISSING_SHOWN = 5  # names quoted in the start-up warning about missing files
PLACES_SHOWN = 5  # file:line places quoted in a warning about boxes or lines


class DataError(ValueError):
    """Annotation data that cannot be used as it is; the message names the file (and line)."""


class Sample(NamedTuple):
    image: np.ndarray  # RGB uint8 [H, W, 3]
    boxes: np.ndarray  # float32 [M, 4] corners (y1, x1, y2, x2) normalised to the image
    labels: np.ndarray  # int32 [M], 1..K


class ImageRecord(NamedTuple):
    """One image of a data set as a reader found it."""

    file_name: str  # relative to the images directory
    width: int
    height: int
    objects: tuple = ()  # ((label, (x, y, w, h) pixels), ...): the training targets
    ignored: tuple = ()  # crowd (COCO) and difficult (VOC) boxes: no targets, ignored by evaluation


class BoxChecks:
    """Checks boxes as readers meet them, and reports what it changed in one warning a kind.

    A box reaching outside its image is clipped to it, a box of zero area is dropped (both
    counted), a box of negative width or height is dropped and named by `where` (file:line);
    `skipped(where, why)` records a line or file a reader leaves out.
    """

    def __init__(self, origin):
        self.origin = origin
        self.places = {"clipped": [], "zero-area": [], "negative size": [], "skipped": []}

    def box(self, x, y, w, h, width, height, where):
        """(x, y, w, h) clipped to a width x height image, or None when it is dropped."""
        if w < 0 or h < 0:
            self.places["negative size"].append(f"{where} (width {w:g}, height {h:g})")
            return None
        x1, y1 = min(max(x, 0.0), width), min(max(y, 0.0), height)
        x2, y2 = min(max(x + w, 0.0), width), min(max(y + h, 0.0), height)
        if x2 <= x1 or y2 <= y1:
            self.places["zero-area"].append(where)
            return None
        if (x1, y1, x2, y2) != (x, y, x + w, y + h):
            self.places["clipped"].append(where)
            return x1, y1, x2 - x1, y2 - y1
        return x, y, w, h

    def skipped(self, where, why):
        self.places["skipped"].append(f"{where}: {why}")

    def count(self, kind) -> int:
        return len(self.places[kind])

    def report(self):
        messages = {"clipped": "boxes reaching outside their image clipped to it",
                    "zero-area": "boxes of zero area dropped",
                    "negative size": "boxes of negative size dropped",
                    "skipped": "annotation lines or files left out, the rest of the data set is used"}
        for kind, places in self.places.items():
            if places:
                shown = "; ".join(places[:PLACES_SHOWN]) + ("; ..." if len(places) > PLACES_SHOWN else "")
                log.warning("%s: %d %s: %s", self.origin, len(places), messages[kind], shown)


def image_size(path):
    """(width, height) from the file's header (Pillow reads no pixels for it), or None."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return image.size
    except (OSError, UnidentifiedImageError, ValueError):
        return None


class DetectionSource:
    """Random-access samples (a `mindspore.dataset.GeneratorDataset` source) from image records.

    `images` holds every image whose file exists (with or without boxes: validation and
    `to_coco` use them all); `records` the (file name, objects) of those with a box, which
    training draws. Images missing from `images_dir` are left out at start-up with one warning
    (their count and first names); an image that fails to decode is reported once by name and
    replaced, whenever it is drawn, by the next readable image of the set, so one bad file does
    not stop a run. `require_boxes=False` allows a set without any box (a validation share).
    """

    def __init__(self, images, labels, images_dir, origin, require_boxes=True):
        self.images_dir = os.fspath(images_dir)
        self.labels = labels
        self.origin = origin
        images = list(images)
        if require_boxes and not any(record.objects for record in images):
            raise ValueError(f"{origin}: no image has a usable (non-crowd, selected) box")
        self.images = self._drop_missing_files(images)
        self.records = [(record.file_name, record.objects) for record in self.images if record.objects]
        self.unreadable = set()  # file names that failed to decode, each reported once
        self._lock = threading.Lock()

    def _drop_missing_files(self, images):
        """The images whose file exists; one warning names the missing ones."""
        exists = [os.path.isfile(os.path.join(self.images_dir, record.file_name)) for record in images]
        missing = [record.file_name for record, found in zip(images, exists) if not found]
        shown = ", ".join(missing[:MISSING_SHOWN]) + (", ..." if len(missing) > MISSING_SHOWN else "")
        if images and len(missing) == len(images):
            with_boxes = sum(bool(record.objects) for record in images)
            raise ValueError(f"none of the {with_boxes} images with boxes is in {self.images_dir} "
                             f"(looked for {shown})")
        if missing:
            log.warning("%d of %d training images are missing from %s and left out: %s",
                        len(missing), len(images), self.images_dir, shown)
        return [record for record, found in zip(images, exists) if found]

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

    def subset(self, images, require_boxes=True) -> "DetectionSource":
        """A source of some of these images (same labels and directory)."""
        return DetectionSource(images, self.labels, self.images_dir, self.origin, require_boxes=require_boxes)

    def split(self, fraction, seed):
        """Hold out a seeded share of the images: (training source, validation source).

        The validation share is round(fraction x images), at least one; both keep the file's order.
        """
        if not 0 < fraction < 1:
            raise ValueError(f"the validation share must lie between 0 and 1, got {fraction}")
        count = max(1, int(round(fraction * len(self.images))))
        if count >= len(self.images):
            raise ValueError(f"{self.origin}: {len(self.images)} images leave none for training after "
                             f"holding out {count} for validation")
        held_out = set(np.random.default_rng(seed).permutation(len(self.images))[:count].tolist())
        train = [record for i, record in enumerate(self.images) if i not in held_out]
        val = [record for i, record in enumerate(self.images) if i in held_out]
        return self.subset(train), self.subset(val, require_boxes=False)

    def to_coco(self) -> dict:
        """The set as a COCO detection dict: images 1..n in order, training boxes (`iscrowd` 0)
        and ignored ones (crowd, VOC's difficult: `iscrowd` 1, which COCO's evaluation ignores),
        categories of the label set."""
        images, annotations = [], []
        for image_id, record in enumerate(self.images, 1):
            images.append({"id": image_id, "file_name": record.file_name, "width": record.width,
                           "height": record.height})
            for crowd, boxes in ((0, record.objects), (1, record.ignored)):
                for label, (x, y, w, h) in boxes:
                    annotations.append({"id": len(annotations) + 1, "image_id": image_id,
                                        "category_id": self.labels.category_id(label),
                                        "bbox": [float(x), float(y), float(w), float(h)],
                                        "area": float(w) * float(h), "iscrowd": crowd})
        categories = [{"id": int(i), "name": n} for i, n in zip(self.labels.ids, self.labels.names)]
        return {"images": images, "annotations": annotations, "categories": categories}
