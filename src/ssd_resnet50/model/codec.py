"""SSD box coding against anchors ([cy, cx, h, w]), with prior scaling (0.1, 0.2).

decode:  yx = t_yx * 0.1 * a_hw + a_yx;  hw = exp(t_hw * 0.2) * a_hw;  corners clipped to [0, 1]
encode is its inverse, used to build training targets.
"""
import numpy as np
from mindspore import Tensor, nn, ops

from .config import DEFAULT_CONFIG


def encode(boxes: np.ndarray, anchors: np.ndarray, prior_scaling=DEFAULT_CONFIG.prior_scaling) -> np.ndarray:
    """Corner boxes [N, 4] (y1, x1, y2, x2), normalised -> regression targets [N, 4]."""
    centre_scale, size_scale = prior_scaling
    box_hw = np.maximum(boxes[:, 2:] - boxes[:, :2], 1e-6)
    box_yx = (boxes[:, :2] + boxes[:, 2:]) / 2
    t_yx = (box_yx - anchors[:, :2]) / (anchors[:, 2:] * centre_scale)
    t_hw = np.log(box_hw / anchors[:, 2:]) / size_scale
    return np.concatenate([t_yx, t_hw], axis=1).astype(np.float32)


def decode(loc: np.ndarray, anchors: np.ndarray, prior_scaling=DEFAULT_CONFIG.prior_scaling) -> np.ndarray:
    """Regressions [..., N, 4] -> corner boxes (y1, x1, y2, x2) clipped to [0, 1]."""
    centre_scale, size_scale = prior_scaling
    yx = loc[..., :2] * centre_scale * anchors[:, 2:] + anchors[:, :2]
    hw = np.exp(loc[..., 2:] * size_scale) * anchors[:, 2:]
    return np.clip(np.concatenate([yx - hw / 2, yx + hw / 2], axis=-1), 0.0, 1.0)


class BoxDecoder(nn.Cell):
    """`decode` inside the graph, so exported models output boxes directly."""

    def __init__(self, anchors: np.ndarray, prior_scaling=DEFAULT_CONFIG.prior_scaling):
        super().__init__()
        self.anchor_yx = Tensor(np.ascontiguousarray(anchors[:, :2]))
        self.anchor_hw = Tensor(np.ascontiguousarray(anchors[:, 2:]))
        self.centre_scale, self.size_scale = float(prior_scaling[0]), float(prior_scaling[1])

    def construct(self, loc):
        yx = loc[..., :2] * self.centre_scale * self.anchor_hw + self.anchor_yx
        hw = ops.exp(loc[..., 2:] * self.size_scale) * self.anchor_hw
        boxes = ops.concat((yx - hw / 2, yx + hw / 2), axis=-1)
        return ops.clip_by_value(boxes, 0.0, 1.0)
