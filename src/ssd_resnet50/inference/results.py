"""What a detection run gives back: a `Detection` per object, an `ImageResult` per input.

    result = detector.detect_batch(["street.jpg"], keep_images=True)[0]
    result.save("street_boxes.png")          # the photo with its boxes drawn (result.plot() is the PIL image)
    print(result.to_json())                  # file name, size, detections
    coco = result.to_coco(image_id=1)        # COCO results entries
"""
import json
from dataclasses import dataclass, field

import numpy as np

from .visualize import draw_detections


@dataclass(frozen=True)
class Detection:
    """One object: box (x, y, width, height) in pixels of the original image."""

    box: tuple
    score: float
    label: int  # contiguous network label, 1..num_classes-1
    category_id: int  # the data set's id (COCO ids have gaps)
    category_name: str

    def to_coco(self, image_id) -> dict:
        """An entry of a COCO results file."""
        return {"image_id": image_id, "category_id": self.category_id,
                "bbox": [round(float(v), 2) for v in self.box], "score": round(float(self.score), 5)}


@dataclass
class ImageResult:
    """The outcome for one input: detections, or the error that stopped it.

    `frame` and `time` (seconds) say where in a video it was; `timing` holds the seconds this
    image spent in "preprocess" (decoding included), "inference" (its share of the batch) and
    "postprocess".
    """

    source: str
    image_hw: tuple = None
    detections: list = field(default_factory=list)
    error: str = None
    image: np.ndarray = field(default=None, repr=False)  # the decoded RGB, when asked to keep it
    frame: int = None
    time: float = None
    fps: float = None  # of the video's frames given (its rate / the stride)
    timing: dict = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        return self.error is None

    def plot(self):
        """The image with its detections drawn, as a PIL image (needs the image kept:
        `detect_batch(..., keep_images=True)` or `iter_detect(..., keep_images=True)`)."""
        if self.image is None:
            raise ValueError(f"{self.source}: no image kept to draw on ({self.error or 'pass keep_images=True'})")
        return draw_detections(self.image, self.detections)

    def save(self, path):
        """Write `plot()` to `path` (the format from its extension, as Pillow reads it)."""
        self.plot().save(path)
        return path

    def to_dict(self) -> dict:
        """File name, image size, video frame and time when from a video, and the detections
        (COCO results fields and the category name), plain JSON types."""
        entry = {"file_name": self.source}
        if self.image_hw is not None:
            entry["height"], entry["width"] = (int(v) for v in self.image_hw)
        if self.frame is not None:
            entry["frame"] = self.frame
            entry["time"] = None if self.time is None else round(self.time, 4)
        if self.error is not None:
            entry["error"] = self.error
        entry["detections"] = [_detection_fields(det) for det in self.detections]
        return entry

    def to_json(self) -> str:
        """`to_dict()` as one line of JSON."""
        return json.dumps(self.to_dict())

    def to_coco(self, image_id) -> list:
        """The COCO results entries of this image's detections."""
        return [det.to_coco(image_id) for det in self.detections]


def _detection_fields(det) -> dict:
    entry = det.to_coco(None)
    del entry["image_id"]
    entry["category_name"] = det.category_name
    return entry


def detections_to_dataframe(results):
    """A pandas DataFrame, a row a detection (file name, frame, category, score, box), from
    `ImageResult`s. pandas is optional: ImportError says how to get it."""
    try:
        import pandas
    except ImportError as error:
        raise ImportError("detections_to_dataframe needs pandas, which is not installed: pip install pandas") \
            from error
    columns = ["file_name", "frame", "category_id", "category_name", "score", "x", "y", "width", "height"]
    rows = [(result.source, result.frame, det.category_id, det.category_name, float(det.score),
             *(float(v) for v in det.box))
            for result in results for det in result.detections]
    return pandas.DataFrame(rows, columns=columns)
