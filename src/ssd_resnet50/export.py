"""Export a checkpoint for deployment: `ssd-resnet50 export --format MINDIR|ONNX`.

    >>> export_checkpoint("ssd.ckpt", "ssd_resnet50.onnx", "ONNX", batch_size=8)  # doctest: +SKIP
    'ssd_resnet50.onnx'

The network is built for the checkpoint's classes and size, loaded strictly and written by
`model.exporting.export_network` (temporary name, then rename).
"""
from .model.checkpoint import load_network
from .model.exporting import FORMATS, check_format, export_network, with_extension

__all__ = ["FORMATS", "export_checkpoint", "describe_io"]


def export_checkpoint(checkpoint, out, file_format="MINDIR", batch_size=1, dynamic_batch=False,
                      num_classes=None, image_size=None, labels=None):
    """Write the inference network with `checkpoint`'s weights to `out` (the format's extension
    added when missing); returns (path written, the network's config)."""
    file_format = check_format(file_format)
    if dynamic_batch and file_format == "ONNX":
        raise ValueError("MindSpore 2.8 cannot export ONNX with a dynamic batch; give a fixed batch size instead")
    network = load_network(checkpoint, num_classes, image_size, labels or None)
    path = export_network(network, with_extension(str(out), file_format), file_format, batch_size, dynamic_batch)
    return path, network.config


def describe_io(config, batch) -> str:
    """The exported graph's input and outputs, for people (`batch`: a number or "B")."""
    height, width = config.image_size
    return (f"  input : float32 [{batch}, 3, {height}, {width}]  RGB resized to {width}x{height}, "
            f"(pixel - mean) / std (see ssd_resnet50.inference.preprocess)\n"
            f"  output 0: boxes  float32 [{batch}, {config.num_anchors}, 4]  normalised y1, x1, y2, x2\n"
            f"  output 1: scores float32 [{batch}, {config.num_anchors}, {config.num_classes}]  "
            "sigmoid, column 0 = background")
