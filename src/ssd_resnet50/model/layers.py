"""Small building blocks shared by the backbone, the neck and the heads.

Every convolution uses TF-style SAME padding (`pad_mode="same"`): the published weights were
trained that way, so odd padding goes to the bottom/right exactly as in the original.
"""
from mindspore import nn


def conv(in_channels, out_channels, kernel_size, stride=1, groups=1, has_bias=False):
    """A SAME-padded convolution; bias only where the checkpoint has one."""
    return nn.Conv2d(
        in_channels,
        out_channels,
        kernel_size,
        stride=stride,
        pad_mode="same",
        group=groups,
        has_bias=has_bias,
        weight_init="normal",
        bias_init="zeros",
    )


def batch_norm(channels, eps, momentum):
    return nn.BatchNorm2d(channels, eps=eps, momentum=momentum)


def conv_bn_relu6(in_channels, out_channels, stride, eps, momentum):
    """3x3 conv -> BN -> ReLU6, the unit of the levels added after the ResNet."""
    return nn.SequentialCell(
        [conv(in_channels, out_channels, 3, stride), batch_norm(out_channels, eps, momentum), nn.ReLU6()]
    )
