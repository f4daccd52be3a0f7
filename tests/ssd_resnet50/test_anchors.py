"""Default boxes: count, order and values as DESIGN.md states them."""
import math

import numpy as np
import pytest

from tests.shared_files import shared_path
from ssd_resnet50.model.anchors import default_anchors
from ssd_resnet50.model.codec import decode, encode
from ssd_resnet50.model.config import DEFAULT_CONFIG


def anchor_by_formula(level, row, col, k, image=640):
    """The anchor of DESIGN.md, written out plainly (in pixels, then normalised)."""
    stride = (8, 16, 32, 64, 128)[level]
    aspect, scale = [(1, 1), (1, math.sqrt(2)), (2, 1), (2, math.sqrt(2)), (0.5, 1), (0.5, math.sqrt(2))][k]
    size = 4 * stride * scale
    h, w = size / math.sqrt(aspect), size * math.sqrt(aspect)
    return np.array([(row + 0.5) * stride, (col + 0.5) * stride, h, w]) / image


def test_count_at_640():
    assert default_anchors().shape == (51150, 4)
    assert DEFAULT_CONFIG.num_anchors == 51150


def test_order_and_values_at_640():
    anchors = default_anchors()
    offset = 0
    rng = np.random.default_rng(0)
    for level, side in enumerate((80, 40, 20, 10, 5)):
        for _ in range(40):
            row, col, k = rng.integers(side), rng.integers(side), rng.integers(6)
            index = offset + (row * side + col) * 6 + k
            np.testing.assert_allclose(anchors[index], anchor_by_formula(level, row, col, k), rtol=1e-6)
        offset += side * side * 6
    assert offset == len(anchors)
    np.testing.assert_allclose(anchors[:6, 2] * 640, [32, 32 * math.sqrt(2), 32 / math.sqrt(2), 32, 32 * math.sqrt(2), 64])


def test_anchors_follow_the_input_size():
    config = DEFAULT_CONFIG.with_options(image_size=(320, 480))
    anchors = default_anchors(config)
    sides = [(40, 60), (20, 30), (10, 15), (5, 8), (3, 4)]
    assert len(anchors) == sum(h * w for h, w in sides) * 6
    last = anchors[-1]  # level 5, bottom-right location, anchor (0.5, sqrt 2)
    np.testing.assert_allclose(last[:2], [(2 + 0.5) * 128 / 320, (3 + 0.5) * 128 / 480], rtol=1e-6)


def test_anchors_reproduce_reference_decoding():
    ref = np.load(shared_path("spec", "reference_seed0_random_input.npz"))
    np.testing.assert_allclose(decode(ref["raw_loc"], default_anchors()), ref["boxes"], rtol=0, atol=2e-6)


@pytest.mark.parametrize("seed", [0, 1])
def test_encode_decode_round_trip(seed):
    rng = np.random.default_rng(seed)
    anchors = default_anchors()[rng.choice(51150, 500, replace=False)]
    corner = rng.uniform(0.05, 0.45, (500, 2))
    boxes = np.concatenate([corner, corner + rng.uniform(0.02, 0.5, (500, 2))], axis=1).astype(np.float32)
    np.testing.assert_allclose(decode(encode(boxes, anchors), anchors), boxes, atol=1e-5)
