"""ResNet-50 (v1.5: the stride sits on the 3x3 convolution) returning C3, C4 and C5."""
from mindspore import nn

from .layers import batch_norm, conv

STAGE_BLOCKS = (3, 4, 6, 3)
STAGE_WIDTHS = (64, 128, 256, 512)  # bottleneck width; output is 4x
EXPANSION = 4


class Bottleneck(nn.Cell):
    """1x1 -> 3x3 (strided) -> 1x1 with a projection shortcut where the shape changes."""

    def __init__(self, in_channels, width, stride, eps, momentum):
        super().__init__()
        out_channels = width * EXPANSION
        self.conv1 = conv(in_channels, width, 1)
        self.bn1 = batch_norm(width, eps, momentum)
        self.conv2 = conv(width, width, 3, stride)
        self.bn2 = batch_norm(width, eps, momentum)
        self.conv3 = conv(width, out_channels, 1)
        self.bn3 = batch_norm(out_channels, eps, momentum)
        self.relu = nn.ReLU()
        self.has_projection = stride != 1 or in_channels != out_channels
        if self.has_projection:
            self.down_sample_layer = nn.SequentialCell(
                [conv(in_channels, out_channels, 1, stride), batch_norm(out_channels, eps, momentum)]
            )

    def construct(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.has_projection:
            identity = self.down_sample_layer(x)
        return self.relu(out + identity)


class ResNet50(nn.Cell):
    """The ImageNet ResNet-50 trunk without its classifier; returns (C3, C4, C5)."""

    def __init__(self, eps=1e-3, momentum=0.97):
        super().__init__()
        self.conv1 = conv(3, 64, 7, 2)
        self.bn1 = batch_norm(64, eps, momentum)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, pad_mode="same")
        in_channels = 64
        stages = []
        for index, (blocks, width) in enumerate(zip(STAGE_BLOCKS, STAGE_WIDTHS)):
            first_stride = 1 if index == 0 else 2
            layer = []
            for block in range(blocks):
                layer.append(Bottleneck(in_channels, width, first_stride if block == 0 else 1, eps, momentum))
                in_channels = width * EXPANSION
            stages.append(nn.SequentialCell(layer))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages

    def construct(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        c2 = self.layer1(x)
        c3 = self.layer2(c2)
        c4 = self.layer3(c3)
        c5 = self.layer4(c4)
        return c3, c4, c5
