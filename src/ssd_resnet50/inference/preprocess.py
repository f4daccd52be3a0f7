"""Image -> network input: decode to RGB uint8, resize (aspect not kept), normalise, CHW.

This is the original evaluation pre-processing (OpenCV INTER_LINEAR to the network size,
ImageNet mean/std on 0-255 values). Every accepted input (path, bytes, PIL image, numpy
array; grayscale, RGB, RGBA, 16-bit) goes through `to_rgb8` first so both backends and every
caller see the same pixels.

`exif=True` turns a photo upright by its EXIF orientation (Pillow's `ImageOps.exif_transpose`),
as a phone or a viewer shows it; `exif=False` keeps the pixels as stored (COCO's protocol).
"""
import io
import os

import cv2
import numpy as np
from PIL import Image, ImageOps

from ..model.config import DEFAULT_CONFIG, SsdConfig


class ImageError(ValueError):
    """An input that is not a usable image; the message names it."""


def describe(image) -> str:
    """A short name for an input, for messages and results."""
    if isinstance(image, (str, os.PathLike)):
        return os.fspath(image)
    if isinstance(image, Image.Image):
        return f"PIL image {image.size[0]}x{image.size[1]} {image.mode}"
    if isinstance(image, np.ndarray):
        return f"array {image.shape} {image.dtype}"
    return type(image).__name__


EXIF_ORIENTATION = 0x0112  # the EXIF tag; 1 is upright, 2-8 the flips and rotations


def read_image(path, exif=False) -> np.ndarray:
    """Decode a file with OpenCV (as the original did) into RGB uint8 [H, W, 3]."""
    path = os.fspath(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as error:
        raise ImageError(f"{path}: cannot read the file ({error.strerror or error})") from error
    return decode(data, path, exif)


def decode(data: np.ndarray, name: str, exif=False) -> np.ndarray:
    """Encoded bytes (uint8 array) -> RGB uint8; one decoder for files, bytes, URLs and servers.

    OpenCV decodes the pixels as stored (as COCO and the original evaluation read them); with
    `exif=True` they are then turned upright by the file's EXIF orientation.
    """
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None:
        raise ImageError(f"{name}: not a readable image (corrupt, empty or an unsupported format)")
    if image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA)
    elif image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    rgb = to_rgb8(image, name=name)
    orientation = exif_orientation(data) if exif else 1
    return upright(rgb, orientation) if orientation != 1 else rgb


def exif_orientation(data: np.ndarray) -> int:
    """The EXIF orientation of encoded bytes (1 when absent or unreadable); reads the header only."""
    try:
        with Image.open(io.BytesIO(data)) as header:
            orientation = header.getexif().get(EXIF_ORIENTATION, 1)
    except Exception:  # noqa: BLE001 - Pillow raises many kinds on odd headers; the pixels decoded already
        return 1
    return orientation if isinstance(orientation, int) and 1 <= orientation <= 8 else 1


def upright(rgb: np.ndarray, orientation: int) -> np.ndarray:
    """RGB pixels as stored -> as an EXIF `orientation` says to show them, by Pillow's own table."""
    image = Image.fromarray(rgb)
    image.getexif()[EXIF_ORIENTATION] = orientation  # exif_transpose reads this same Exif object
    return np.ascontiguousarray(np.asarray(ImageOps.exif_transpose(image)))


def to_rgb8(image, name=None, exif=False) -> np.ndarray:
    """Any supported array or PIL image -> contiguous RGB uint8 [H, W, 3].

    Arrays are taken as RGB(A) or grayscale; 16-bit values are scaled to 8 bits; float arrays
    whose values all lie in [0, 1] are taken as that scale, other floats as 0-255; alpha is
    dropped (what the network was trained on).
    """
    name = name or describe(image)
    if isinstance(image, Image.Image):
        if exif:
            image = ImageOps.exif_transpose(image)
        if image.mode in ("I;16", "I;16B", "I;16L", "I"):
            image = np.asarray(image)
        else:
            image = np.asarray(image.convert("RGB"))
    if not isinstance(image, np.ndarray):
        raise ImageError(f"{name}: expected a path, PIL image or numpy array, got {type(image).__name__}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise ImageError(f"{name}: expected an array [H, W], [H, W, 3] or [H, W, 4], got shape {image.shape}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ImageError(f"{name}: empty image of shape {image.shape}")
    image = _to_uint8(image, name)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return np.ascontiguousarray(image[:, :, :3])


def _to_uint8(image: np.ndarray, name: str) -> np.ndarray:
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return ((image.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    if image.dtype in (np.int32, np.int64) and image.min() >= 0 and image.max() > 255:
        return np.clip(image.astype(np.int64) * 255 // 65535, 0, 255).astype(np.uint8)
    if np.issubdtype(image.dtype, np.number):
        if not np.isfinite(image).all():
            raise ImageError(f"{name}: the array holds NaN or infinite values")
        if np.issubdtype(image.dtype, np.floating) and image.min() >= 0 and image.max() <= 1:
            image = image * 255.0  # the [0, 1] convention of many image libraries
        return np.clip(np.rint(image), 0, 255).astype(np.uint8)
    raise ImageError(f"{name}: unsupported pixel type {image.dtype}")


def load_rgb(image, exif=False, name=None) -> np.ndarray:
    """A path (str/PathLike), encoded bytes, PIL image or array -> RGB uint8 [H, W, 3].

    `exif=True` applies the EXIF orientation of files, bytes and PIL images (arrays have none)."""
    if isinstance(image, (str, os.PathLike)):
        return read_image(image, exif)
    if isinstance(image, (bytes, bytearray, memoryview)):
        return decode(np.frombuffer(image, np.uint8), name or f"{len(image)} bytes", exif)
    return to_rgb8(image, name, exif)


def normalise(rgb: np.ndarray, config: SsdConfig = DEFAULT_CONFIG) -> np.ndarray:
    """RGB uint8 [H, W, 3] -> float32 [3, h, w] at the network size."""
    height, width = config.image_size
    resized = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_LINEAR)
    mean = np.asarray(config.image_mean, np.float32)
    std = np.asarray(config.image_std, np.float32)
    return np.ascontiguousarray(((resized.astype(np.float32) - mean) / std).transpose(2, 0, 1))


def preprocess(image, config: SsdConfig = DEFAULT_CONFIG, exif=False, name=None):
    """One input -> (network input [3, h, w] float32, the decoded RGB uint8 image).

    Anything wrong with the input surfaces as ImageError naming it (`name`, or the input's own).
    """
    try:
        rgb = load_rgb(image, exif, name)
        return normalise(rgb, config), rgb
    except ImageError:
        raise
    except (ValueError, TypeError, OSError, cv2.error) as error:
        raise ImageError(f"{name or describe(image)}: cannot be used as an image ({error})") from error
