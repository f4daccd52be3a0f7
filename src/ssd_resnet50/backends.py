"""Where the network runs. Every backend takes a pre-processed float32 batch [B, 3, H, W]
and returns numpy (boxes [B, N, 4], scores [B, N, C]); pre/post-processing are shared."""
import logging

import mindspore as ms
import numpy as np

log = logging.getLogger(__name__)

BACKENDS = ("auto", "mindspore", "onnxruntime")


class MindSporeBackend:
    """The network compiled once per input shape with `mindspore.jit` (graph mode for this
    call only, whatever the caller's global context mode is)."""

    name = "mindspore"

    def __init__(self, network):
        network.set_train(False)
        self.network = network
        self._forward = ms.jit(network.construct)

    def __call__(self, batch: np.ndarray):
        boxes, scores = self._forward(ms.Tensor(batch))
        return boxes.asnumpy(), scores.asnumpy()


# Options that only the onnxruntime backend uses; the MindSpore backend accepts and ignores
# them, so a caller may pass them whatever backend "auto" picks.
ONNX_OPTIONS = ("checkpoint", "checkpoint_sha256", "cache_dir", "threads")


def make_backend(name, network, **options):
    """Build the backend `name` for an inference network (see BACKENDS).

    "auto" is onnxruntime when it is installed and MindSpore's device is the CPU, else
    MindSpore. Options: see `OnnxRuntimeBackend` (checkpoint, checkpoint_sha256, cache_dir,
    threads).
    """
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    unknown = sorted(set(options) - set(ONNX_OPTIONS))
    if unknown:
        raise TypeError(f"unknown backend options {unknown}; supported: {', '.join(ONNX_OPTIONS)}")
    chosen = _auto_choice() if name == "auto" else name
    if chosen == "onnxruntime":
        from .onnx_backend import OnnxRuntimeBackend

        try:
            return OnnxRuntimeBackend(network, **options)
        except OSError as error:  # an unwritable model cache: "auto" still has MindSpore
            if name != "auto":
                raise
            log.warning("onnxruntime backend unavailable (%s); using mindspore", error)
    return MindSporeBackend(network)


def _auto_choice() -> str:
    device = ms.get_context("device_target")
    if device != "CPU":
        log.debug("backend auto -> mindspore (device %s)", device)
        return "mindspore"
    from .onnx_backend import BackendUnavailable, import_onnxruntime

    try:
        import_onnxruntime()
    except BackendUnavailable:
        log.debug("backend auto -> mindspore (onnxruntime is not installed)")
        return "mindspore"
    log.debug("backend auto -> onnxruntime (CPU, onnxruntime installed)")
    return "onnxruntime"
