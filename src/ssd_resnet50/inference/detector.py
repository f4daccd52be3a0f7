"""The user API: images in, detections (pixels of the original image, COCO ids and names) out.

    from ssd_resnet50 import Detector
    detector = Detector.from_checkpoint("ssd_resnet50.ckpt")   # or Detector(mshub.load(uid))
    for det in detector.detect("photo.jpg"):
        print(det.category_name, round(det.score, 2), det.box)
"""
import time

import numpy as np

from ..backends import make_backend
from ..backends.accelerated import AcceleratedNetwork
from ..model.categories import labels_beside, resolve_labels
from ..model.checkpoint import load_network
from ..model.network import SsdInference
from .postprocess import postprocess
from .prefetch import prefetched
from .preprocess import ImageError, preprocess
from .results import Detection, ImageResult
from .sources import Sources

__all__ = ["Detector", "Detection", "ImageResult"]


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
        exif: turn photos upright by their EXIF orientation first (default; boxes are then in
            the upright image's pixels); False keeps the pixels as stored, as COCO does.
        classes: keep only these categories (names or category ids).
        max_detections: keep at most this many detections an image, the best.
        prefetch: batches decoded ahead on a worker thread while the network runs (0: none).
    """

    def __init__(self, network, *, backend="auto", labels=None, score_threshold=None, batch_size=8, exif=True,
                 classes=None, max_detections=None, prefetch=2, **backend_options):
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
        self.exif = bool(exif)
        self.classes = None if classes is None else self.labels.labels_of(classes)
        if max_detections is not None and int(max_detections) < 1:
            raise ValueError(f"max_detections must be 1 or more, got {max_detections}")
        self.max_detections = None if max_detections is None else int(max_detections)
        self.prefetch = int(prefetch)
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
        """Detections for one image (path, URL, bytes, PIL image or array); raises ImageError
        for an unreadable input."""
        result = self.detect_batch([image])[0]
        if not result.ok:
            raise ImageError(result.error)
        return result.detections

    def detect_batch(self, images, keep_images=False, exif=None) -> list:
        """An `ImageResult` per image, in order (see `iter_detect` for what `images` may hold).
        A bad input gets its error and the others are still processed."""
        return list(self.iter_detect(images, keep_images, exif))

    def iter_detect(self, images, keep_images=False, exif=None):
        """`ImageResult`s in input order, yielded a batch at a time, so memory stays bounded
        however many inputs there are.

        `images`: one input or a list of them: image files, folders, glob patterns, http(s)
        URLs, videos (a result a frame), "-" for stdin, bytes, PIL images, arrays; or a
        `Sources` for its options (`recursive`, `vid_stride`). `keep_images=True` leaves the
        decoded RGB image on each result (for `result.plot()`). `exif` overrides the detector's.

        Full batches run at `batch_size` and the rest one image at a time, so a compiled
        backend only ever sees two input shapes. The next batch is decoded on a worker thread
        while the network runs (`prefetch`).
        """
        sources = images if isinstance(images, Sources) else Sources(images)
        exif = self.exif if exif is None else bool(exif)
        for waiting, ready, full in prefetched(self._batches(sources, keep_images, exif), self.prefetch):
            for chunk in ([ready] if full else [[item] for item in ready]):
                self._run(chunk)
            yield from waiting

    def _batches(self, items, keep_images, exif):
        """(results in order, [(result, tensor)] to run, whether a full batch), a batch at a time."""
        waiting, ready = [], []
        for item in items:
            result = ImageResult(source=item.name, frame=item.frame, time=item.time, fps=item.fps, error=item.error)
            if result.ok:
                start = time.perf_counter()
                try:
                    tensor, rgb = preprocess(item.image, self.config, exif, item.name)
                    result.image_hw = rgb.shape[:2]
                    result.image = rgb if keep_images else None
                    ready.append((result, tensor))
                except ImageError as error:
                    result.error = str(error)
                result.timing["preprocess"] = time.perf_counter() - start
            waiting.append(result)
            if len(ready) == self.batch_size:
                yield waiting, ready, True
                waiting, ready = [], []
        if waiting:
            yield waiting, ready, False

    def _run(self, chunk):
        start = time.perf_counter()
        boxes, scores = self.backend(np.stack([tensor for _, tensor in chunk]))
        share = (time.perf_counter() - start) / len(chunk)
        for (result, _), image_boxes, image_scores in zip(chunk, boxes, scores):
            start = time.perf_counter()
            result.detections = self._detections(image_boxes, image_scores, result.image_hw)
            result.timing["inference"] = share
            result.timing["postprocess"] = time.perf_counter() - start

    def raw(self, batch: np.ndarray):
        """Network outputs (boxes, scores) for a pre-processed batch [B, 3, H, W]."""
        return self.backend(np.ascontiguousarray(batch, dtype=np.float32))

    def _detections(self, boxes, scores, image_hw) -> list:
        rows = postprocess(boxes, scores, image_hw, self.config, self.score_threshold)
        if self.classes is not None:
            rows = rows[np.isin(rows[:, 0].astype(int), list(self.classes))]
        if self.max_detections is not None and len(rows) > self.max_detections:
            rows = rows[np.argsort(-rows[:, 1], kind="stable")[:self.max_detections]]
        rows = rows.tolist()
        ids, names = self.labels.ids, self.labels.names
        return [
            Detection(box=(x, y, w, h), score=score, label=int(label),
                      category_id=ids[int(label) - 1], category_name=names[int(label) - 1])
            for label, score, x, y, w, h in rows
        ]
