"""Choosing and building a backend by name (`make_backend`), including "auto"."""
import logging

import mindspore as ms

from .errors import BackendUnavailable
from .mindspore_backend import MindSporeBackend

log = logging.getLogger(__name__)

BACKENDS = ("auto", "mindspore", "onnxruntime")

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
        from .onnxruntime_backend import OnnxRuntimeBackend

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
    from .onnxruntime_backend import import_onnxruntime

    try:
        import_onnxruntime()
    except BackendUnavailable:
        log.debug("backend auto -> mindspore (onnxruntime is not installed)")
        return "mindspore"
    log.debug("backend auto -> onnxruntime (CPU, onnxruntime installed)")
    return "onnxruntime"
