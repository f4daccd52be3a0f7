"""The network that the published checkpoint fits, and everything that touches its tensors:
configuration, layers, backbone, neck, heads, anchors, box coding, label sets, strict weight
loading and export to deployment files."""
from .config import DEFAULT_CONFIG, SsdConfig
from .network import SsdInference, create_network

# The model-zoo folders whose hub cards this package's installed entry serves (any repository and
# branch): mindspore/mindspore r1.3's, and mindspore/models' where the code moved later.
HUB_FOLDERS = ("model_zoo/research/cv/ssd_resnet50", "research/cv/ssd_resnet50")

__all__ = ["DEFAULT_CONFIG", "HUB_FOLDERS", "SsdConfig", "SsdInference", "create_network"]
