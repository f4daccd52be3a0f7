"""Where the network runs. Every backend takes a pre-processed float32 batch [B, 3, H, W] and
returns numpy (boxes [B, N, 4], scores [B, N, C]); pre- and post-processing stay outside, shared.

One module an engine (`mindspore_backend`, `onnxruntime_backend`, `openvino_backend`), the
exported-model cache they share (`model_cache`), int8 models on disk (`quantized_model`), and
`make_backend`, which picks one by name or automatically, at a precision (fp32, bf16, int8).
"""
from .errors import BackendUnavailable, PrecisionUnavailable, QuantizedModelError
from .factory import BACKENDS, PRECISIONS, make_backend

__all__ = ["BACKENDS", "PRECISIONS", "BackendUnavailable", "PrecisionUnavailable", "QuantizedModelError",
           "make_backend"]
