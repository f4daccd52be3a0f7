"""The network that the published checkpoint fits, and everything that touches its tensors:
configuration, layers, backbone, neck, heads, anchors, box coding, label sets, strict weight
loading and export to deployment files."""
from .config import DEFAULT_CONFIG, SsdConfig
from .network import SsdInference, create_network

__all__ = ["DEFAULT_CONFIG", "SsdConfig", "SsdInference", "create_network"]
