"""Ground truth -> per-anchor training targets (the SSD matching rule of the original recipe).

An anchor is positive for the ground-truth box it overlaps most when that IoU exceeds the
threshold (0.5); besides, every ground-truth box claims its own best anchor whatever the IoU,
so no object goes unmatched. Every other anchor is background (label 0): there is no ignore
band between "clearly background" and "positive".

    >>> anchors = default_anchors(config)                       # [N, 4] cy, cx, h, w
    >>> targets = match(boxes, labels, anchors)                 # boxes [M, 4] y1, x1, y2, x2 in [0, 1]
    >>> targets.loc.shape, targets.labels.shape   # ((N, 4), (N,)); labels 0 = background
    >>> targets.num_positives                       # anchors with a label > 0
"""
from typing import NamedTuple

import numpy as np

from ..model.anchors import anchors_as_corners
from ..model.codec import encode
from ..model.config import DEFAULT_CONFIG

BACKGROUND = 0
FORCED_IOU = 2.0  # above any real IoU: a ground truth's best anchor always matches it


class MatchTargets(NamedTuple):
    """Training targets of one image: what the loss reads."""

    loc: np.ndarray  # [N, 4] float32 encoded regressions; zeros on background anchors
    labels: np.ndarray  # [N] int32; 0 = background, 1..K-1 = class of the matched box
    matched: np.ndarray  # [N] int64 index of the matched ground truth, -1 on background

    @property
    def num_positives(self) -> int:
        return int(np.count_nonzero(self.labels))


def iou_matrix(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of corner boxes [M, 4] x [N, 4] -> [M, N] (no +1 pixel convention)."""
    a = np.asarray(boxes_a, np.float64)[:, None, :]
    b = np.asarray(boxes_b, np.float64)[None, :, :]
    top_left = np.maximum(a[..., :2], b[..., :2])
    bottom_right = np.minimum(a[..., 2:], b[..., 2:])
    intersection = np.prod(np.clip(bottom_right - top_left, 0.0, None), axis=-1)
    area_a = np.prod(a[..., 2:] - a[..., :2], axis=-1)
    area_b = np.prod(b[..., 2:] - b[..., :2], axis=-1)
    union = area_a + area_b - intersection
    return np.where(union > 0, intersection / np.maximum(union, 1e-12), 0.0)


def match(boxes, labels, anchors, iou_threshold=DEFAULT_CONFIG.match_iou_threshold,
          prior_scaling=DEFAULT_CONFIG.prior_scaling) -> MatchTargets:
    """Assign ground truth to anchors and encode the regressions.

    Args:
        boxes: [M, 4] ground-truth corners (y1, x1, y2, x2), normalised to the image.
        labels: [M] contiguous class labels, 1..K-1 (0 is background and is not allowed here).
        anchors: [N, 4] anchors (cy, cx, h, w), as `default_anchors` returns them.
        iou_threshold: an anchor whose best IoU is strictly above it is positive.

    Ties go to the earlier ground truth, also when two boxes share a best anchor.
    """
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    labels = np.asarray(labels, np.int64).reshape(-1)
    if len(boxes) != len(labels):
        raise ValueError(f"{len(boxes)} boxes but {len(labels)} labels")
    if len(labels) and labels.min() <= BACKGROUND:
        raise ValueError("ground-truth labels must be >= 1 (0 is background)")
    num_anchors = len(anchors)
    if len(boxes) == 0:
        return MatchTargets(np.zeros((num_anchors, 4), np.float32), np.zeros(num_anchors, np.int32),
                            np.full(num_anchors, -1, np.int64))

    iou = iou_matrix(boxes, anchors_as_corners(anchors))  # [M, N]
    iou[np.arange(len(boxes)), iou.argmax(axis=1)] = FORCED_IOU
    matched = iou.argmax(axis=0)  # first maximum: earlier ground truth wins ties
    positive = iou[matched, np.arange(num_anchors)] > iou_threshold
    matched = np.where(positive, matched, -1)

    target_labels = np.where(positive, labels[np.maximum(matched, 0)], BACKGROUND).astype(np.int32)
    loc = np.zeros((num_anchors, 4), np.float32)
    loc[positive] = encode(boxes[matched[positive]], anchors[positive], prior_scaling)
    return MatchTargets(loc, target_labels, matched)
