"""Default boxes (anchors) of SSD-ResNet50, derived from the config, not hard-coded.

Per level of stride s: base size 4*s, scales {1, sqrt 2} x aspect ratios w/h {1, 2, 0.5},
ordered aspect-major; centres at (i + 0.5) * s; rows y-major, then x, then anchor.
Stored normalised to the image as [cy, cx, h, w] and not clipped (as the checkpoint expects).
"""
import functools

import numpy as np

from .config import DEFAULT_CONFIG, SsdConfig


def anchor_shapes(config: SsdConfig, stride: int) -> np.ndarray:
    """[A, 2] (h, w) in pixels of the anchors at one location of a level."""
    base = config.anchor_scale_factor * stride
    shapes = []
    for ratio in config.anchor_aspect_ratios:
        for scale in config.anchor_scales:
            size = base * scale
            shapes.append((size / np.sqrt(ratio), size * np.sqrt(ratio)))
    return np.asarray(shapes, dtype=np.float64)


@functools.lru_cache(maxsize=8)
def _anchors(config: SsdConfig) -> np.ndarray:
    height, width = config.image_size
    levels = []
    for stride, (rows, cols) in zip(config.level_strides, config.feature_sizes):
        cy, cx = np.meshgrid((np.arange(rows) + 0.5) * stride, (np.arange(cols) + 0.5) * stride, indexing="ij")
        shapes = anchor_shapes(config, stride)
        count = rows * cols * len(shapes)
        level = np.empty((rows, cols, len(shapes), 4), dtype=np.float64)
        level[..., 0] = cy[..., None] / height
        level[..., 1] = cx[..., None] / width
        level[..., 2] = shapes[:, 0] / height
        level[..., 3] = shapes[:, 1] / width
        levels.append(level.reshape(count, 4))
    anchors = np.concatenate(levels).astype(np.float32)
    anchors.setflags(write=False)
    return anchors


def default_anchors(config: SsdConfig = DEFAULT_CONFIG) -> np.ndarray:
    """[N, 4] float32 anchors [cy, cx, h, w] (read-only, cached per config)."""
    return _anchors(config)


def anchors_as_corners(anchors: np.ndarray) -> np.ndarray:
    """[cy, cx, h, w] -> [y1, x1, y2, x2], for matching ground truth."""
    centre, size = anchors[:, :2], anchors[:, 2:]
    return np.concatenate([centre - size / 2, centre + size / 2], axis=1)
