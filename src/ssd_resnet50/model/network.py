"""SSD-ResNet50 assembled, and `create_network`, the entry point a hub calls.

Parameter names are the published checkpoint's: the returned cell holds the detector as
`network`, so names read `network.feature_extractor.resnet...` and `network.multi_box...`.
"""
from mindspore import nn, ops

from .anchors import default_anchors
from .codec import BoxDecoder
from .config import DEFAULT_CONFIG, SsdConfig
from .heads import MultiBox
from .neck import FeatureExtractor

SUPPORTED_NAMES = ("ssd_resnet50",)


class SsdResNet50(nn.Cell):
    """Image [B, 3, H, W] -> (box regressions [B, N, 4], class logits [B, N, C])."""

    def __init__(self, config: SsdConfig = DEFAULT_CONFIG):
        super().__init__()
        self.config = config
        # Attribute order = the checkpoint's parameter order.
        self.multi_box = MultiBox(config)
        self.feature_extractor = FeatureExtractor(config)

    def construct(self, x):
        return self.multi_box(self.feature_extractor(x))


class SsdInference(nn.Cell):
    """Image -> (boxes [B, N, 4] as normalised y1, x1, y2, x2 in [0, 1], sigmoid scores [B, N, C])."""

    def __init__(self, network: SsdResNet50):
        super().__init__()
        self.network = network
        self.config = network.config
        self.decoder = BoxDecoder(default_anchors(network.config), network.config.prior_scaling)

    def construct(self, x):
        loc, logits = self.network(x)
        return self.decoder(loc), ops.sigmoid(logits)


class SsdTraining(nn.Cell):
    """Image -> (raw box regressions, raw class logits): what the loss reads."""

    def __init__(self, network: SsdResNet50):
        super().__init__()
        self.network = network
        self.config = network.config

    def construct(self, x):
        return self.network(x)


def create_network(name="ssd_resnet50", *args, is_training=False, num_classes=None, image_size=None,
                   config=None, **kwargs):
    """Build SSD-ResNet50 without weights (a hub loads them afterwards).

    Args:
        name: the model name; only "ssd_resnet50" (any case) is supported.
        is_training: False (default) returns the inference network: input a float32
            [B, 3, H, W] pre-processed image batch, output (boxes, scores) with boxes
            [B, N, 4] normalised (y1, x1, y2, x2) and scores [B, N, num_classes] after a
            sigmoid (column 0 is background). True returns the trainable network whose
            outputs are raw regressions and logits (no sigmoid, no decoding).
        num_classes: classes including background (default 81, COCO). Another value sizes
            the class heads for fine-tuning; load the rest with `strict=False`.
        image_size: int or (height, width) of the network input (default 640). Anchors
            follow it; the published weights were trained at 640.
        config: an `SsdConfig` to start from; the options above override it.

    Parameter names equal the published checkpoint's `network.*` names, so
    `mindspore.load_param_into_net` of that checkpoint leaves nothing unloaded.
    """
    if args:
        raise TypeError(f"create_network takes keyword options only, got extra positional {args!r}")
    if kwargs:
        raise TypeError(f"create_network got unknown options {sorted(kwargs)}; "
                        "supported: is_training, num_classes, image_size, config")
    if not isinstance(name, str) or name.lower() not in SUPPORTED_NAMES:
        raise ValueError(f"unknown network name {name!r}; supported names: {', '.join(SUPPORTED_NAMES)}")
    config = config or DEFAULT_CONFIG
    changes = {}
    if num_classes is not None:
        if int(num_classes) < 2:
            raise ValueError(f"num_classes must count background too (>= 2), got {num_classes}")
        changes["num_classes"] = int(num_classes)
    if image_size is not None:
        changes["image_size"] = image_size
    if changes:
        config = config.with_options(**changes)
    network = SsdResNet50(config)
    return SsdTraining(network) if is_training else SsdInference(network)
