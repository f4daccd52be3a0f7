"""Where the network runs. Every backend takes a pre-processed float32 batch [B, 3, H, W] and
returns numpy (boxes [B, N, 4], scores [B, N, C]); pre- and post-processing stay outside, shared.

One module an engine (`mindspore_backend`, `onnxruntime_backend`), the exported-model cache they
share (`model_cache`), and `make_backend`, which picks one by name or automatically.
"""
from .errors import BackendUnavailable
from .factory import BACKENDS, make_backend

__all__ = ["BACKENDS", "BackendUnavailable", "make_backend"]
