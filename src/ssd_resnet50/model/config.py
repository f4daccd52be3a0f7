"""Every number of the SSD-ResNet50 model in one place.

The defaults reproduce the published COCO 2017 checkpoint of the MindSpore model zoo
(research/cv/ssd_resnet50, r1.3). Change them only for a new training run (say, another
class count or input size): the anchors and the head sizes are derived from them.
"""
from dataclasses import dataclass, replace

COCO_NUM_CLASSES = 81  # 80 objects + background (label 0), trained as a class


@dataclass(frozen=True)
class SsdConfig:
    """Model, anchor, codec and post-processing numbers of SSD-ResNet50."""

    image_size: tuple = (640, 640)  # (height, width) the network sees
    num_classes: int = COCO_NUM_CLASSES  # including background at index 0

    # Feature levels: C3, C4, conv(C5), two extra levels.
    level_channels: tuple = (512, 1024, 512, 256, 256)
    level_strides: tuple = (8, 16, 32, 64, 128)
    backbone_bn_eps: float = 1e-3  # ResNet and heads
    neck_bn_eps: float = 1e-5  # the convolutions added after the ResNet
    bn_momentum: float = 0.97  # MindSpore convention: weight of the running value

    # Anchors: base size = anchor_scale_factor * stride, then scales x aspect ratios.
    anchor_scale_factor: float = 4.0
    anchor_scales: tuple = (1.0, 2.0 ** 0.5)
    anchor_aspect_ratios: tuple = (1.0, 2.0, 0.5)  # w / h

    # Box coding (SSD "prior scaling").
    prior_scaling: tuple = (0.1, 0.2)  # (centre, size)

    # Evaluation post-processing.
    score_threshold: float = 0.1
    nms_iou_threshold: float = 0.6
    max_detections_per_class: int = 100

    # Pre-processing (RGB, 0-255 input).
    image_mean: tuple = (123.675, 116.28, 103.53)
    image_std: tuple = (58.395, 57.12, 57.375)

    # Training recipe.
    match_iou_threshold: float = 0.5
    focal_alpha: float = 0.25
    focal_gamma: float = 2.0
    momentum: float = 0.9
    weight_decay: float = 4e-4
    warmup_epochs: int = 2
    loss_scale: float = 1024.0
    grad_clip_norm: float = 1.0
    batch_size: int = 32

    @property
    def anchors_per_location(self) -> int:
        return len(self.anchor_scales) * len(self.anchor_aspect_ratios)

    @property
    def feature_sizes(self) -> tuple:
        """(height, width) of each level; TF-SAME padding rounds up at every stride-2 step."""
        sizes = []
        for stride in self.level_strides:
            sizes.append(tuple(_ceil_div(s, stride) for s in self.image_size))
        return tuple(sizes)

    @property
    def num_anchors(self) -> int:
        return sum(h * w for h, w in self.feature_sizes) * self.anchors_per_location

    def with_options(self, **changes) -> "SsdConfig":
        """A copy with some numbers changed; `image_size` may be an int (square)."""
        if isinstance(changes.get("image_size"), int):
            changes["image_size"] = (changes["image_size"],) * 2
        if "image_size" in changes:
            changes["image_size"] = tuple(int(s) for s in changes["image_size"])
        return replace(self, **changes)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


DEFAULT_CONFIG = SsdConfig()
