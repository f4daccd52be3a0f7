"""The user API: images in, detections (pixels of the original image, COCO ids and names) out.

    from ssd_resnet50 import Detector
    detector = Detector.from_checkpoint("ssd_resnet50.ckpt")   # or Detector(mshub.load(uid))
    for det in detector.detect("photo.jpg"):
        print(det.category_name, round(det.score, 2), det.box)
"""
from dataclasses import dataclass, field

import numpy as np

from ..backends import make_backend
from ..backends.accelerated import AcceleratedNetwork
from ..model.categories import labels_beside, resolve_labels
from ..model.checkpoint import load_network
from ..model.network import SsdInference
from .postprocess import postprocess
from .preprocess import ImageError, describe, preprocess


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
    """The outcome for one input of a batch: detections, or the error that stopped it."""

    source: str
    image_hw: tuple = None
    detections: list = field(default_factory=list)
    error: str = None
    image: np.ndarray = field(default=None, repr=False)  # the decoded RGB, when asked to keep it

    @property
    def ok(self) -> bool:
        return self.error is None


class Detector:
    """Runs SSD-ResNet50 on images of any size and mode, one at a time or in batches.

    Args:
        network: an inference network from `create_network()` or `mindspore_hub.load()`,
            with its weights loaded (or one `mindspore_hub.optimize.transform` accelerated,
            which brings its backend).
        backend: "auto", "openvino", "onnxruntime" or "mindspore" (see `backends.make_backend`).
        precision: "fp32" (default), "bf16" or "int8", on the openvino backend.
        int8_model: the directory `ssd-resnet50 optimize` wrote; implies precision "int8".
        labels: a `LabelSet` or a list of class names for a fine-tuned model
            (default: COCO's 80 categories).
        score_threshold: keep detections scoring above this (default 0.1, the evaluation's).
        batch_size: images run through the network together by `detect_batch`.
    """

    def __init__(self, network, *, backend="auto", labels=None, score_threshold=None, batch_size=8,
                 **backend_options):
        accelerated = isinstance(network, AcceleratedNetwork)
        if accelerated:
            if backend != "auto" or backend_options:
                raise ValueError("an accelerated network brings its own backend; give it no backend or backend options")
            network, backend = network.source, network.backend
        if not isinstance(network, SsdInference):
            raise TypeError("Detector needs the inference network (create_network(..., is_training=False)), "
                            f"got {type(network).__name__}")
        self.config = network.config
        self.labels = resolve_labels(labels, self.config.num_classes)
        self.score_threshold = self.config.score_threshold if score_threshold is None else float(score_threshold)
        self.batch_size = int(batch_size)
        self.backend = backend if accelerated else make_backend(backend, network, **backend_options)

    @classmethod
    def from_checkpoint(cls, path, *, num_classes=None, image_size=None, **options):
        """A detector with weights from a MindSpore checkpoint (published or fine-tuned),
        loaded strictly: a missing or mis-shaped tensor is an error naming it. Without `labels`
        or `num_classes`, the labels.json of the training run beside it (if any) names the classes."""
        if options.get("labels") is None and num_classes is None:
            options["labels"] = labels_beside(path)
        network = load_network(path, num_classes, image_size, options.get("labels"))
        options.setdefault("checkpoint", path)  # lets a backend key its caches by the file
        return cls(network, **options)

    def detect(self, image) -> list:
        """Detections for one image (path, bytes, PIL image or array); raises ImageError
        for an unreadable input."""
        result = self.detect_batch([image])[0]
        if not result.ok:
            raise ImageError(result.error)
        return result.detections

    def detect_batch(self, images) -> list:
        """An `ImageResult` per input, in order. A bad input gets its error and the others
        are still processed."""
        return list(self.iter_detect(images))

    def iter_detect(self, images, keep_images=False):
        """`ImageResult`s in input order, yielded a batch at a time, so memory stays bounded
        however many inputs there are. `keep_images=True` leaves the decoded RGB image on
        each result (to draw on it without decoding again).

        Full batches run at `batch_size` and the rest one image at a time, so a compiled
        backend only ever sees two input shapes.
        """
        waiting, ready = [], []  # results not yet yielded; decoded inputs not yet run
        for image in images:
            result = ImageResult(source=describe(image))
            try:
                tensor, rgb = preprocess(image, self.config)
                result.image_hw = rgb.shape[:2]
                result.image = rgb if keep_images else None
                ready.append((result, tensor))
            except ImageError as error:
                result.error = str(error)
            waiting.append(result)
            if len(ready) == self.batch_size:
                self._run(ready)
                yield from waiting
                waiting, ready = [], []
        for item in ready:
            self._run([item])
        yield from waiting

    def _run(self, chunk):
        boxes, scores = self.backend(np.stack([tensor for _, tensor in chunk]))
        for (result, _), image_boxes, image_scores in zip(chunk, boxes, scores):
            result.detections = self._detections(image_boxes, image_scores, result.image_hw)

    def raw(self, batch: np.ndarray):
        """Network outputs (boxes, scores) for a pre-processed batch [B, 3, H, W]."""
        return self.backend(np.ascontiguousarray(batch, dtype=np.float32))

    def _detections(self, boxes, scores, image_hw) -> list:
        rows = postprocess(boxes, scores, image_hw, self.config, self.score_threshold).tolist()
        ids, names = self.labels.ids, self.labels.names
        return [
            Detection(box=(x, y, w, h), score=score, label=int(label),
                      category_id=ids[int(label) - 1], category_name=names[int(label) - 1])
            for label, score, x, y, w, h in rows
        ]
