"""Decoding: every way of passing the same picture gives the same pixels."""
import io

import numpy as np
import pytest
from PIL import Image

from ssd_resnet50.inference.preprocess import ImageError, load_rgb


def encoded(array, fmt, **options):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt, **options)
    return buffer.getvalue()


def test_path_and_bytes_decode_alike(tmp_path):
    rng = np.random.default_rng(0)
    picture = rng.integers(0, 255, (40, 80, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees on display
    data = encoded(picture, "JPEG", exif=exif.tobytes())
    path = tmp_path / "rotated.jpg"
    path.write_bytes(data)
    from_path, from_bytes = load_rgb(path), load_rgb(data)
    assert from_path.shape == from_bytes.shape == (40, 80, 3)  # stored pixels, as COCO and the original
    np.testing.assert_array_equal(from_path, from_bytes)
    np.testing.assert_array_equal(from_path, np.asarray(Image.open(path).convert("RGB")))


def test_sixteen_bit_png_from_path_and_bytes(tmp_path):
    gray16 = np.random.default_rng(1).integers(0, 65535, (20, 30), dtype=np.uint16)
    data = encoded(gray16, "PNG")
    path = tmp_path / "deep.png"
    path.write_bytes(data)
    expected = ((gray16.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    for rgb in (load_rgb(path), load_rgb(data)):
        np.testing.assert_array_equal(rgb, np.repeat(expected[:, :, None], 3, axis=2))


def test_garbage_bytes_name_what_was_given():
    with pytest.raises(ImageError, match="12 bytes: not a readable image"):
        load_rgb(b"not an image")
