"""Optimisation of the original recipe: Momentum with selective weight decay, a warm-up + cosine
learning-rate schedule, and a training step with a static loss scale and global-norm clipping.

    >>> rates = learning_rates(0.05, steps_per_epoch=100, epochs=60, warmup_epochs=2, init_lr=0.01333)
    >>> optimizer = create_optimizer(network, rates, config)
    >>> step = TrainStep(SsdWithLoss(network), optimizer, config.loss_scale, config.grad_clip_norm)
    >>> loss = step(images, loc_targets, labels)

Weight decay applies to every trainable parameter except BatchNorm gamma/beta, as the recipe
says: convolution kernels and biases (the heads') decay, as MindSpore's optimizers do by default
(their default filter spares only names containing "gamma" or "beta").
"""
import math

import numpy as np
import mindspore as ms
from mindspore import nn, ops

from ..model.config import SsdConfig

NO_DECAY_LEAVES = ("gamma", "beta")

# The original run's warm-up start and peak: `lr_init` 0.01333 of the model zoo's SSD-ResNet50-FPN
# configuration (official/cv/SSD; research/cv/ssd_resnet50 passes `config.lr_init` the same way)
# and its `--lr` 0.05. A run with another --lr starts its warm-up at the same fraction of it.
ORIGINAL_INIT_LR, ORIGINAL_BASE_LR = 0.01333, 0.05


def default_init_lr(base_lr) -> float:
    """Warm-up start for a peak `base_lr`: the original's 0.01333 at its 0.05, in proportion."""
    return base_lr * ORIGINAL_INIT_LR / ORIGINAL_BASE_LR


def learning_rates(base_lr, steps_per_epoch, epochs, warmup_epochs, init_lr=None, end_lr=0.0) -> np.ndarray:
    """Per-step learning rates: linear warm-up from `init_lr` to `base_lr`, then a cosine decay
    to `end_lr`, as the original's `get_lr`.

    Warm-up step i (0-based) of W gets init_lr + (base_lr - init_lr) * i / W: the first step
    trains at `init_lr` (default: `default_init_lr(base_lr)`), and step W starts the cosine at
    `base_lr`.
    """
    total = int(steps_per_epoch * epochs)
    if total < 1:
        raise ValueError(f"no training steps: {steps_per_epoch} steps an epoch x {epochs} epochs")
    init_lr = default_init_lr(base_lr) if init_lr is None else float(init_lr)
    if init_lr < 0:
        raise ValueError(f"the warm-up cannot start at a negative learning rate ({init_lr})")
    warmup = min(int(steps_per_epoch * warmup_epochs), total)
    rates = np.empty(total, np.float64)
    rates[:warmup] = init_lr + (base_lr - init_lr) * np.arange(warmup) / max(warmup, 1)
    decay = total - warmup
    progress = np.arange(decay) / max(decay, 1)
    rates[warmup:] = end_lr + 0.5 * (base_lr - end_lr) * (1.0 + np.cos(math.pi * progress))
    return rates.astype(np.float32)


def parameter_groups(network, weight_decay):
    """Momentum groups: decayed kernels and biases, and BatchNorm gamma/beta without decay."""
    decayed, plain = [], []
    for param in network.trainable_params():
        (plain if param.name.rsplit(".", 1)[-1] in NO_DECAY_LEAVES else decayed).append(param)
    return [{"params": decayed, "weight_decay": float(weight_decay)}, {"params": plain, "weight_decay": 0.0},
            {"order_params": network.trainable_params()}]


def create_optimizer(network, rates, config: SsdConfig):
    """Momentum over the trainable parameters with a per-step learning-rate table."""
    return nn.Momentum(parameter_groups(network, config.weight_decay), learning_rate=ms.Tensor(rates),
                       momentum=config.momentum)


class TrainStep(nn.TrainOneStepCell):
    """One optimisation step: scaled loss -> gradients (averaged across data-parallel workers)
    -> unscaled -> clipped to a global norm -> optimizer. Returns the unscaled loss (or the
    network's tuple (loss, terms...) whose terms carry no gradient, as `SsdWithLoss(terms=True)`).

    The scale is static (no overflow check), as in the original recipe; with float32 on CPU it
    changes nothing numerically but keeps the recipe's arithmetic.
    """

    def __init__(self, network_with_loss, optimizer, loss_scale=1024.0, clip_norm=1.0):
        super().__init__(network_with_loss, optimizer, sens=float(loss_scale))
        self.inverse_scale = 1.0 / float(loss_scale)
        self.clip_norm = float(clip_norm)
        self.hyper_map = ops.HyperMap()

    def construct(self, *inputs):
        outputs = self.network(*inputs)
        sens = self.hyper_map(ops.partial(_filled, self.sens), outputs)  # the terms' sens reach no gradient
        grads = self.grad(self.network, self.weights)(*inputs, sens)
        grads = self.grad_reducer(grads)
        grads = self.hyper_map(ops.partial(_scale, self.inverse_scale), grads)
        grads = ops.clip_by_global_norm(grads, self.clip_norm)
        return ops.depend(outputs, self.optimizer(grads))


def _scale(factor, grad):
    return grad * factor


def _filled(value, output):
    return ops.fill(output.dtype, output.shape, value)
