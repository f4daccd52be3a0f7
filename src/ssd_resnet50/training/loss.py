"""The SSD-ResNet50 training loss: sigmoid focal loss + SmoothL1, per positive anchor.

    classification = sum over all anchors and all channels of focal(logit, one_hot(label))
    localisation   = sum over positive anchors and 4 coordinates of smooth_l1(loc - target)
    loss           = (classification + localisation) / max(1, positives in the batch)

The one-hot target includes channel 0, background: as in the original recipe, background is
trained as a class of its own (an anchor of label 0 has target 1 on channel 0 and 0 elsewhere).
"""
from mindspore import nn, ops
import mindspore as ms

from ..model.config import DEFAULT_CONFIG, SsdConfig


class MultiBoxLoss(nn.Cell):
    """(loc [B, N, 4], logits [B, N, K], loc targets [B, N, 4], labels [B, N] int32)
    -> (focal term, SmoothL1 term), both already divided by the positives in the batch."""

    def __init__(self, num_classes, alpha=DEFAULT_CONFIG.focal_alpha, gamma=DEFAULT_CONFIG.focal_gamma,
                 smooth_l1_beta=1.0):
        super().__init__()
        self.num_classes = int(num_classes)
        self.alpha = float(alpha)
        self.gamma = float(gamma)
        self.beta = float(smooth_l1_beta)

    def focal(self, logits, targets):
        """Element-wise sigmoid focal loss, numerically stable for large logits."""
        probability = ops.sigmoid(logits)
        cross_entropy = ops.relu(logits) - logits * targets + ops.log1p(ops.exp(-ops.abs(logits)))
        p_true = probability * targets + (1.0 - probability) * (1.0 - targets)
        alpha = self.alpha * targets + (1.0 - self.alpha) * (1.0 - targets)
        return alpha * ops.pow(1.0 - p_true, self.gamma) * cross_entropy

    def smooth_l1(self, difference):
        distance = ops.abs(difference)
        return ops.where(distance < self.beta, 0.5 * distance * distance / self.beta, distance - 0.5 * self.beta)

    def construct(self, loc, logits, loc_targets, labels):
        positive = ops.cast(labels > 0, ms.float32)  # [B, N]
        num_positives = ops.maximum(positive.sum(), 1.0)
        one_hot = ops.one_hot(labels, self.num_classes, ops.ones((), ms.float32), ops.zeros((), ms.float32))
        classification = self.focal(logits, one_hot).sum() / num_positives
        box = self.smooth_l1(loc - loc_targets).sum(-1)  # [B, N]
        localisation = (box * positive).sum() / num_positives
        return classification, localisation


class SsdWithLoss(nn.Cell):
    """The training network followed by the loss: (images, loc targets, labels) -> scalar loss.

    With `terms=True` it returns (loss, focal term, SmoothL1 term), the terms cut from the
    gradient (`TrainStep` differentiates the loss alone), so a run can log them.
    Built without a name prefix, so its parameters keep the checkpoint's `network.*` names.
    """

    def __init__(self, network, config: SsdConfig = None, terms=False):
        super().__init__(auto_prefix=False)
        config = config or network.config
        self.network = network
        self.loss = MultiBoxLoss(config.num_classes, config.focal_alpha, config.focal_gamma)
        self.terms = bool(terms)

    def construct(self, images, loc_targets, labels):
        loc, logits = self.network(images)
        classification, localisation = self.loss(loc, logits, loc_targets, labels)
        total = classification + localisation
        if self.terms:
            return total, ops.stop_gradient(classification), ops.stop_gradient(localisation)
        return total
