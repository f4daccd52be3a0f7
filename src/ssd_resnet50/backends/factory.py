"""Choosing and building a backend by name (`make_backend`), including "auto", and its precision."""
import logging

import mindspore as ms

from .errors import BackendUnavailable, PrecisionUnavailable
from .mindspore_backend import MindSporeBackend
from .onnxruntime_backend import OnnxRuntimeBackend, import_onnxruntime
from .openvino_backend import INSTALL_HINT, PRECISIONS, OpenVinoBackend, check_precision, cpu_capabilities
from .openvino_backend import import_openvino

log = logging.getLogger(__name__)

# "auto", then the engines in the order "auto" prefers them on a CPU (fastest first, measured:
# OpenVINO fp32 0.82x onnxruntime's time, onnxruntime 0.51x MindSpore graph mode's).
BACKENDS = ("auto", "openvino", "onnxruntime", "mindspore")
IMPORTERS = {"openvino": import_openvino, "onnxruntime": import_onnxruntime}

# Options for the engines that run an exported graph. Every backend accepts them (MindSpore
# ignores them), so a caller may pass them whatever backend "auto" picks.
OPTIONS = ("checkpoint", "checkpoint_sha256", "cache_dir", "threads", "precision", "int8_model")
ONNX_OPTIONS = ("checkpoint", "checkpoint_sha256", "cache_dir", "threads")


def make_backend(name, network, **options):
    """Build the backend `name` for an inference network (see BACKENDS).

    "auto" takes, on a CPU, the first installed of openvino, onnxruntime, mindspore (on another
    device, mindspore) and logs its choice at debug level. `precision` is "fp32" (default),
    "bf16" or "int8"; `int8_model=DIR` (a model from `ssd-resnet50 optimize`) implies int8.
    bf16 and int8 run on openvino only: asked of another backend, or of a CPU that lacks them,
    they raise PrecisionUnavailable; "auto" instead falls back from bf16 to fp32 with a warning.
    Other options: see `OpenVinoBackend` and `OnnxRuntimeBackend`.
    """
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise TypeError(f"unknown backend options {unknown}; supported: {', '.join(OPTIONS)}")
    precision = options.pop("precision", None)
    if precision is None:
        precision = "int8" if options.get("int8_model") is not None else "fp32"
    precision = check_precision(precision)
    if name == "auto":
        return _auto(network, precision, options)
    return _build(name, network, precision, options)


def _build(name, network, precision, options):
    if name == "openvino":
        return OpenVinoBackend(network, precision=precision, **options)
    if precision != "fp32":
        raise PrecisionUnavailable(f"precision {precision} runs on the openvino backend only, not on {name}: "
                                   "use backend='openvino' (--backend openvino)")
    if name == "onnxruntime":
        return OnnxRuntimeBackend(network, **{key: value for key, value in options.items() if key in ONNX_OPTIONS})
    return MindSporeBackend(network)


def _auto(network, precision, options):
    device = ms.get_context("device_target")
    if device != "CPU":
        log.debug("backend auto -> mindspore (device %s)", device)
        return _build("mindspore", network, _fallback_precision(precision, "mindspore", f"the device is {device}"),
                      options)
    why_not_openvino = ""
    for name in BACKENDS[1:]:
        missing = _not_installed(name)
        if missing:
            log.debug("backend auto: %s is not installed (%s)", name, missing)
            why_not_openvino = why_not_openvino or f"{name} is not installed"
            continue
        if name == "openvino":
            chosen = _check_cpu_precision(precision)
        else:
            chosen = _fallback_precision(precision, name, why_not_openvino)
        try:
            backend = _build(name, network, chosen, options)
        except OSError as error:  # an unwritable model cache: "auto" still has MindSpore
            if chosen == "int8" or name == "mindspore":
                raise
            log.warning("%s backend unavailable (%s); trying the next one", name, error)
            why_not_openvino = why_not_openvino or f"{name} is unavailable ({error})"
            continue
        log.debug("backend auto -> %s %s (CPU, the first usable of %s)", name, chosen, ", ".join(BACKENDS[1:]))
        return backend
    raise AssertionError("unreachable: the mindspore backend is always there")


def _not_installed(name) -> str:
    """Why the engine cannot be imported, or '' when it can (MindSpore always can)."""
    try:
        IMPORTERS.get(name, lambda: None)()
    except BackendUnavailable as error:
        return str(error)
    return ""


def _check_cpu_precision(precision) -> str:
    """bf16 where OpenVINO reports the CPU can, else fp32 with a warning; int8 and fp32 as asked."""
    if precision == "bf16":
        capabilities = cpu_capabilities()
        if "BF16" not in capabilities:
            log.warning("this CPU cannot run bf16 in OpenVINO (it reports %s); using fp32", ", ".join(capabilities))
            return "fp32"
    return precision


def _fallback_precision(precision, name, why) -> str:
    """fp32 for a backend that has nothing else: bf16 falls back with a warning, int8 cannot."""
    if precision == "int8":
        raise BackendUnavailable(f"int8 models run on the openvino backend, and {why}: {INSTALL_HINT}")
    if precision == "bf16":
        log.warning("bf16 runs on the openvino backend only, and %s; using %s in fp32", why, name)
    return "fp32"
