"""SSD with a ResNet-50 backbone, faithful to the MindSpore model zoo's COCO 2017 checkpoint.

The public API: `create_network` (the hub's entry point), `Detector` with its `Detection` and
`ImageResult`, and the configuration. Sub-packages, from the bottom up: `model` (the network
and its tensors), `backends` (where it runs), `inference` and `training`, then `evaluate` and
`export`; `cli` is the command line and nothing below imports it.

Importing it checks the installed MindSpore first (`mindspore_versions`): a missing or untested
one raises MindSporeVersionError, which says which version was found and how to fix it.
"""
from .mindspore_versions import require_supported_mindspore

require_supported_mindspore()

from .model.config import DEFAULT_CONFIG, SsdConfig  # noqa: E402 (after the check)
from .model.network import create_network  # noqa: E402

__all__ = ["DEFAULT_CONFIG", "SsdConfig", "create_network", "Detector", "Detection", "ImageResult"]


def __getattr__(name):
    # The detector pulls in image libraries; import it only when asked for.
    if name in ("Detector", "Detection", "ImageResult"):
        from .inference import detector

        return getattr(detector, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
