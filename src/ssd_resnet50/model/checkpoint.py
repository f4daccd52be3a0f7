"""Strict weight loading: a network either gets every parameter from a checkpoint, or an error.

MindSpore's `load_param_into_net` only reports what it skipped; here a missing tensor or a
shape mismatch is an error naming it. Extra checkpoint entries (optimizer state of a
training checkpoint: `moments.*`, `learning_rate`, ...) are ignored.
"""
import logging
import os

import mindspore as ms

log = logging.getLogger(__name__)


class CheckpointMismatch(ValueError):
    """The checkpoint does not fit the network; the message lists what is missing or different."""


def read_checkpoint(path) -> dict:
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        return ms.load_checkpoint(path)
    except Exception as error:  # MindSpore raises ValueError/RuntimeError for corrupt files
        raise CheckpointMismatch(f"{path}: not a readable MindSpore checkpoint ({error})") from error


def load_weights(network, checkpoint, strict=True, skip=()):
    """Load a checkpoint (path or parameter dict) into `network`.

    `skip` lists name prefixes that may stay unloaded (new class heads when fine-tuning).
    Returns the names left unloaded (only those under `skip`, or any when strict=False).
    """
    params = read_checkpoint(checkpoint) if isinstance(checkpoint, (str, os.PathLike)) else checkpoint
    problems = {}  # name -> what is wrong
    fitting = {}
    for param in network.get_parameters():
        value = params.get(param.name)
        if value is None:
            problems[param.name] = "missing from the checkpoint"
        elif tuple(value.shape) != tuple(param.shape):
            problems[param.name] = f"checkpoint shape {tuple(value.shape)} vs network {tuple(param.shape)}"
        elif value.dtype != param.dtype:
            problems[param.name] = f"checkpoint dtype {value.dtype} vs network {param.dtype}"
        else:
            fitting[param.name] = value
    allowed = [name for name in problems if name.startswith(tuple(skip))]
    refused = [f"{name}: {why}" for name, why in problems.items() if name not in allowed]
    if refused and strict:
        shown = "\n  ".join(refused[:20]) + ("\n  ..." if len(refused) > 20 else "")
        raise CheckpointMismatch(f"{len(refused)} network parameters cannot be loaded from the checkpoint:\n  {shown}")
    ms.load_param_into_net(network, fitting, strict_load=True)
    left = list(problems)
    if left:
        log.info("left %d parameters at their initial values: %s", len(left), ", ".join(left[:10]))
    return left


def load_network(checkpoint, num_classes=None, image_size=None, labels=None):
    """The inference network for a checkpoint (published or fine-tuned), its weights loaded strictly.
    `num_classes` (background included) defaults to 1 + the `labels` given, else to that of the
    training run's labels.json beside the checkpoint, else 81."""
    from .categories import labels_beside, resolve_labels
    from .network import create_network

    if num_classes is None and labels is None:
        labels = labels_beside(checkpoint)
    if num_classes is None and labels is not None:
        num_classes = resolve_labels(labels, None).num_classes
    network = create_network("ssd_resnet50", num_classes=num_classes, image_size=image_size)
    load_weights(network, checkpoint)
    return network
