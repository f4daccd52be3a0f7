"""What every training-data reader gives the pipeline: `Sample`s, by index, from records.

A reader (COCO JSON now; other annotation formats later) only turns its files into records
`(file name, [(label, (x, y, w, h) in pixels), ...])` and a `LabelSet`; reading the images,
leaving out missing files and stepping over undecodable ones is the same for all of them.
"""
import logging
import os
import threading
from typing import NamedTuple

import numpy as np

from ...inference.preprocess import ImageError, read_image

log = logging.getLogger(__name__)
MISSING_SHOWN = 5  # names quoted in the start-up warning about missing files


class Sample(NamedTuple):
    image: np.ndarray  # RGB uint8 [H, W, 3]
    boxes: np.ndarray  # float32 [M, 4] corners (y1, x1, y2, x2) normalised to the image
    labels: np.ndarray  # int32 [M], 1..K


class DetectionSource:
    """Random-access samples (a `mindspore.dataset.GeneratorDataset` source) from records.

    Images missing from `images_dir` are left out at start-up with one warning (their count and
    first names); an image that fails to decode is reported once by name and replaced, whenever
    it is drawn, by the next readable image of the set, so one bad file does not stop a run.
    """

    def __init__(self, records, labels, images_dir, origin):
        self.images_dir = os.fspath(images_dir)
        self.labels = labels
        if not records:
            raise ValueError(f"{origin}: no image has a usable (non-crowd, selected) box")
        self.records = self._drop_missing_files(records)
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
