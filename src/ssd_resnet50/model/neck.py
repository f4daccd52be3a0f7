"""The feature pyramid of the published model: ResNet C3, C4, then three levels built on C5.

Not an FPN: there is no top-down path. C5 goes through a 3x3 conv (2048 -> 512); from that,
a 3x3 conv (512 -> 256) and two strided 3x3 convs make the 10x10 and 5x5 levels (at 640x640).
The attribute names (`resnet`, `Channel_cover`, `extra.blocks`) are the checkpoint's.
"""
from mindspore import nn

from .backbone import ResNet50
from .layers import conv_bn_relu6


class ExtraLevels(nn.Cell):
    """512-channel level -> two coarser 256-channel levels."""

    def __init__(self, in_channels, channels, eps, momentum):
        super().__init__()
        self.Channel_cover = conv_bn_relu6(in_channels, channels, 1, eps, momentum)
        self.blocks = nn.CellList([conv_bn_relu6(channels, channels, 2, eps, momentum) for _ in range(2)])

    def construct(self, x):
        x = self.Channel_cover(x)
        level4 = self.blocks[0](x)
        level5 = self.blocks[1](level4)
        return level4, level5


class FeatureExtractor(nn.Cell):
    """Image -> the five feature levels the heads read, finest first."""

    def __init__(self, config):
        super().__init__()
        momentum = config.bn_momentum
        c5_channels, level3_channels = 2048, config.level_channels[2]
        # Attribute order = the checkpoint's parameter order.
        self.resnet = ResNet50(config.backbone_bn_eps, momentum)
        self.extra = ExtraLevels(level3_channels, config.level_channels[3], config.neck_bn_eps, momentum)
        self.Channel_cover = conv_bn_relu6(c5_channels, level3_channels, 1, config.neck_bn_eps, momentum)

    def construct(self, x):
        c3, c4, c5 = self.resnet(x)
        level3 = self.Channel_cover(c5)
        level4, level5 = self.extra(level3)
        return c3, c4, level3, level4, level5
