"""Per-level, unshared box and class heads: depthwise 3x3 -> BN -> ReLU6 -> 1x1 conv."""
from mindspore import nn, ops

from .layers import batch_norm, conv


def head(in_channels, out_channels, eps, momentum):
    """One prediction head; index 0..3 in the cell list match the checkpoint's names."""
    return nn.SequentialCell(
        [
            conv(in_channels, in_channels, 3, groups=in_channels),
            batch_norm(in_channels, eps, momentum),
            nn.ReLU6(),
            conv(in_channels, out_channels, 1, has_bias=True),
        ]
    )


def flatten_levels(outputs, values_per_anchor):
    """[B, A*k, H, W] per level -> [B, sum(H*W*A), k], rows y-major, then x, then anchor."""
    flat = []
    for x in outputs:
        batch = x.shape[0]
        flat.append(ops.transpose(x, (0, 2, 3, 1)).reshape(batch, -1, values_per_anchor))
    return ops.concat(flat, axis=1)


class MultiBox(nn.Cell):
    """Box regressions and class logits for every anchor of every level."""

    def __init__(self, config):
        super().__init__()
        anchors = config.anchors_per_location
        eps, momentum = config.backbone_bn_eps, config.bn_momentum
        self.num_classes = config.num_classes
        self.multi_loc_layers = nn.CellList(
            [head(c, anchors * 4, eps, momentum) for c in config.level_channels]
        )
        self.multi_cls_layers = nn.CellList(
            [head(c, anchors * config.num_classes, eps, momentum) for c in config.level_channels]
        )

    def construct(self, features):
        locs = []
        logits = []
        for i, feature in enumerate(features):
            locs.append(self.multi_loc_layers[i](feature))
            logits.append(self.multi_cls_layers[i](feature))
        return flatten_levels(locs, 4), flatten_levels(logits, self.num_classes)
