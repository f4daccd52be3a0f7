"""What `mshub serve` and `ssd-resnet50 serve` run for this model: encoded image files in,
detections out, through the `Detector` (same backends, same pre- and post-processing).

It follows `mindspore_hub.deploy`'s pipeline contract without importing it (the loader and the
model stay apart): tensor specs are plain dicts, and a bad image is an `ImageError`, a
ValueError, which the server answers 400.

Outputs of each image: ``detections``, a JSON list of {box [x, y, w, h] in pixels of the
original image, score, label, category_id, category_name}; the same as tensors, padded to the
request's largest count: ``boxes`` [N, K, 4], ``scores`` [N, K], ``category_ids`` [N, K]
(padding 0), ``num_detections`` [N]; and ``image_size`` [N, 2] (height, width).
"""
import io
import json
import warnings

import numpy as np
from PIL import Image, UnidentifiedImageError

from .inference.detector import Detector
from .inference.preprocess import ImageError

INPUTS = [{"name": "image", "datatype": "BYTES", "shape": [-1], "base64_in_json": True}]
OUTPUTS = [
    {"name": "detections", "datatype": "BYTES", "shape": [-1]},
    {"name": "boxes", "datatype": "FP32", "shape": [-1, -1, 4]},
    {"name": "scores", "datatype": "FP32", "shape": [-1, -1]},
    {"name": "category_ids", "datatype": "INT32", "shape": [-1, -1]},
    {"name": "num_detections", "datatype": "INT32", "shape": [-1]},
    {"name": "image_size", "datatype": "INT32", "shape": [-1, 2]},
]


class DetectionPipeline:
    """The serving pipeline around a `Detector`.

    Args:
        detector: the Detector (its backend, labels and score threshold are the server's).
        max_batch_size: the server's; the detector runs full batches at this size, the rest
            one image at a time, so its backend sees two shapes, both compiled by `warmup`.
        max_pixels: images with more pixels are refused before they are decoded (decompression
            bombs); default Pillow's limit, `PIL.Image.MAX_IMAGE_PIXELS`.
    """

    task = "detect"  # POST /v1/detect
    upload_input = "image"
    inputs = INPUTS
    outputs = OUTPUTS

    def __init__(self, detector: Detector, max_batch_size=None, max_pixels=None):
        self.detector = detector
        if max_batch_size:
            detector.batch_size = int(max_batch_size)
        self.max_pixels = int(max_pixels or Image.MAX_IMAGE_PIXELS)

    def prepare(self, sample: dict) -> bytes:
        """The encoded file of one sample, its header checked (a known format, not too many pixels)."""
        value = sample["image"]
        value = value.item() if isinstance(value, np.ndarray) else value
        if not isinstance(value, (bytes, bytearray)) or not value:
            raise ImageError("image: expected the bytes of an image file (PNG, JPEG, ...), got nothing")
        check_image_file(bytes(value), self.max_pixels)
        return bytes(value)

    def run_batch(self, files: list) -> list:
        return [self._outputs(result) if result.ok else ImageError(f"image: {result.error}")
                for result in self.detector.detect_batch(files)]

    def warmup(self, max_batch_size: int) -> None:
        """Run both batch shapes once (compiles or exports the backend's models)."""
        self.detector.batch_size = int(max_batch_size)
        buffer = io.BytesIO()
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 80, 3), dtype=np.uint8)).save(buffer, "PNG")
        for count in sorted({max_batch_size, 1}, reverse=True):
            self.detector.detect_batch([buffer.getvalue()] * count)

    def to_json(self, outputs: dict) -> dict:
        """The answer of POST /v1/detect for one image's outputs."""
        height, width = (int(v) for v in outputs["image_size"])
        return {"detections": json.loads(outputs["detections"].item()), "image": {"width": width, "height": height}}

    @staticmethod
    def _outputs(result) -> dict:
        found = result.detections
        listed = [{"box": [float(v) for v in det.box], "score": float(det.score), "label": det.label,
                   "category_id": det.category_id, "category_name": det.category_name} for det in found]
        return {
            "detections": np.array(json.dumps(listed).encode(), dtype=object),
            "boxes": np.array([det.box for det in found], np.float32).reshape(-1, 4),
            "scores": np.array([det.score for det in found], np.float32),
            "category_ids": np.array([det.category_id for det in found], np.int32),
            "num_detections": np.array(len(found), np.int32),
            "image_size": np.array(result.image_hw, np.int32),
        }


def check_image_file(data: bytes, max_pixels: int) -> None:
    """Refuse, from its header alone, a file that is no image Pillow knows or that would decode
    to more than `max_pixels` pixels."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageError(f"image: refused as a possible decompression bomb ({error})") from None
    except UnidentifiedImageError:
        raise ImageError("image: not an image file Pillow recognises (PNG, JPEG, BMP, GIF, TIFF, WebP, ...)") from None
    except Exception as error:  # untrusted bytes: whatever a format's header parser raises means unreadable
        raise ImageError(f"image: not a readable image file ({type(error).__name__}: {error})") from None
    if width * height > max_pixels:
        raise ImageError(f"image: {width}x{height} is {width * height} pixels, more than the limit of {max_pixels} "
                         "(a possible decompression bomb; the server's --max-pixels)")


def create_pipeline(name, network, max_batch_size=None, max_pixels=None, **detector_options):
    """The entry's `create_pipeline` hook: `network` (from `mindspore_hub.load`) served as a detector.
    `detector_options` are the `Detector`'s (backend, precision, score_threshold, labels, ...)."""
    detector = Detector(network, **detector_options)
    return DetectionPipeline(detector, max_batch_size=max_batch_size, max_pixels=max_pixels)
