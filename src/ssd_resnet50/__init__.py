"""SSD with a ResNet-50 backbone, faithful to the MindSpore model zoo's COCO 2017 checkpoint."""
from .config import DEFAULT_CONFIG, SsdConfig
from .model import create_network

__all__ = ["DEFAULT_CONFIG", "SsdConfig", "create_network", "Detector", "Detection"]


def __getattr__(name):
    # The detector pulls in image libraries; import it only when asked for.
    if name in ("Detector", "Detection"):
        from . import detector

        return getattr(detector, name)
    raise AttributeError(name)
