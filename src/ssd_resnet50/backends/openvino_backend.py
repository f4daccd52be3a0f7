"""The OpenVINO backend: the exported network compiled by OpenVINO for the CPU, in fp32, bf16 or int8.

fp32 and bf16 compile the ONNX file that `model_cache` keeps (the very file the onnxruntime
backend runs, with the same keys and checks); int8 compiles the NNCF-quantized model that
`ssd_resnet50.optimize.quantize` wrote (see `quantized_model`). Pre- and post-processing stay in
the Detector, the same for every backend and precision.

- fp32 is the reference: `INFERENCE_PRECISION_HINT` f32 (OpenVINO's default on a CPU with bf16
  support would be bf16). bf16 runs where OpenVINO reports `BF16` among the CPU's
  `OPTIMIZATION_CAPABILITIES`, int8 where it reports `INT8`; the layers NNCF left unquantized
  run in f32.
- A compiled model is kept in the cache as OpenVINO exports it (`CompiledModel.export_model`),
  beside its record (size, sha256), so a second start imports it instead of compiling. A damaged
  one is compiled again. OpenVINO's own `CACHE_DIR` is not used: it imports a blob with flipped
  bytes without noticing and then returns wrong outputs (measured with OpenVINO 2026.4).
- The quantized model has a fixed batch of 1 (MindSpore exports the graph with the batch written
  into its reshapes, so OpenVINO cannot reshape it): int8 runs a batch one image at a time.
- OpenVINO and NNCF send usage telemetry to Google Analytics and write a client id under
  ~/intel when imported; `import_openvino` and `import_nncf` import them with their telemetry
  module blocked, so they fall back to their own no-op stubs.
"""
import contextlib
import hashlib
import logging
import os
import sys
import threading

import numpy as np

from ..model.exporting import OUTPUT_NAMES
from . import model_cache, quantized_model
from .cpu import available_cores
from .errors import BackendUnavailable, PrecisionUnavailable

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install .[openvino]  (or: pip install openvino nncf)"
PRECISIONS = ("fp32", "bf16", "int8")
# What OpenVINO's CPU plugin must report among OPTIMIZATION_CAPABILITIES for each precision.
CAPABILITIES = {"fp32": "FP32", "bf16": "BF16", "int8": "INT8"}
# INFERENCE_PRECISION_HINT: int8 keeps the layers NNCF did not quantize in f32.
HINTS = {"fp32": "f32", "bf16": "bf16", "int8": "f32"}
DEVICE = "CPU"
TELEMETRY_MODULE = "openvino_telemetry"


@contextlib.contextmanager
def _telemetry_blocked():
    """`import openvino_telemetry` fails while this lasts (unless it is imported already), so
    OpenVINO's converter and NNCF, imported now, bind their no-op telemetry stubs for good."""
    blocked = TELEMETRY_MODULE not in sys.modules
    if blocked:
        sys.modules[TELEMETRY_MODULE] = None
    try:
        yield
    finally:
        if blocked and sys.modules.get(TELEMETRY_MODULE, 0) is None:
            del sys.modules[TELEMETRY_MODULE]


def import_openvino():
    """The openvino module (imported without telemetry), or BackendUnavailable saying how to install it."""
    try:
        with _telemetry_blocked():
            import openvino
    except ImportError as error:
        raise BackendUnavailable(f"the openvino backend needs the openvino package: {INSTALL_HINT} ({error})") from error
    return openvino


def import_nncf():
    """The nncf module (imported without telemetry), or BackendUnavailable saying how to install it."""
    import_openvino()
    try:
        with _telemetry_blocked():
            import nncf
    except ImportError as error:
        raise BackendUnavailable(f"int8 quantization needs the nncf package: {INSTALL_HINT} ({error})") from error
    return nncf


def cpu_capabilities(core=None) -> tuple:
    """What OpenVINO's CPU plugin reports it can run fast here (OPTIMIZATION_CAPABILITIES: FP32,
    BF16, INT8, ...)."""
    core = core or import_openvino().Core()
    return tuple(core.get_property(DEVICE, "OPTIMIZATION_CAPABILITIES"))


def check_precision(precision) -> str:
    name = str(precision).lower()
    if name not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    return name


def precision_supported(precision, core=None) -> bool:
    return CAPABILITIES[check_precision(precision)] in cpu_capabilities(core)


class OpenVinoBackend:
    """Runs an inference network with OpenVINO on the CPU (see the module docstring).

    Args:
        network: the inference network with its weights loaded.
        precision: "fp32" (default), "bf16" or "int8".
        int8_model: the directory `ssd-resnet50 optimize` wrote (needed for, and only for, int8).
        checkpoint, checkpoint_sha256, cache_dir: as for the onnxruntime backend (`model_cache`).
        threads: OpenVINO inference threads (default: the cores available to the process).
    """

    name = "openvino"

    def __init__(self, network, *, precision="fp32", int8_model=None, checkpoint=None, checkpoint_sha256=None,
                 cache_dir=None, threads=None):
        self._ov = import_openvino()
        self.precision = check_precision(precision)
        self.core = self._ov.Core()
        capabilities = cpu_capabilities(self.core)
        if CAPABILITIES[self.precision] not in capabilities:
            raise PrecisionUnavailable(
                f"this CPU cannot run {self.precision} in OpenVINO (it reports {', '.join(capabilities)}); "
                "use precision='fp32'")
        self.network = network
        self.config = network.config
        self.threads = int(threads) if threads else available_cores()
        self.cache_dir = model_cache.prepare_cache_dir(cache_dir)
        self.weights_id = model_cache.weights_id(network, checkpoint, checkpoint_sha256)
        self.int8_model = None
        if self.precision == "int8":
            if int8_model is None:
                raise ValueError("precision int8 needs a quantized model: make one with `ssd-resnet50 optimize "
                                 "--calibration-images DIR --out MODEL_DIR` and pass int8_model=MODEL_DIR "
                                 "(--int8-model MODEL_DIR)")
            self.int8_model = quantized_model.read(int8_model)
            self.int8_model.check_fits(network, self.weights_id)
        elif int8_model is not None:
            raise ValueError(f"int8_model is a quantized model; it runs with precision='int8', not {self.precision!r}")
        self._compiled = {}
        self._lock = threading.Lock()  # one infer request a compiled model: one call at a time

    @property
    def properties(self) -> dict:
        return {"INFERENCE_PRECISION_HINT": HINTS[self.precision], "INFERENCE_NUM_THREADS": self.threads,
                "PERFORMANCE_HINT": "LATENCY"}

    def __call__(self, batch: np.ndarray):
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        with self._lock:
            if self.int8_model is not None:  # batch 1 only: one image at a time
                outputs = [self._infer(self.compiled(1), batch[i:i + 1]) for i in range(batch.shape[0])]
                return tuple(np.concatenate(parts) for parts in zip(*outputs))
            return self._infer(self.compiled(batch.shape[0]), batch)

    @staticmethod
    def _infer(compiled, batch):
        model, request = compiled
        result = request.infer({0: batch})  # copies the outputs (share_outputs=False)
        return tuple(result[model.output(name)] for name in OUTPUT_NAMES)

    def compiled(self, batch_size: int):
        """(compiled model, infer request) for this batch size: imported from the cache, else compiled now."""
        if batch_size not in self._compiled:
            model = model_cache.load_or_build(
                self.compiled_path(batch_size), lambda path: self._import(path, batch_size),
                lambda path: self._compile_and_keep(path, batch_size), log, "compiled OpenVINO model",
                "compiling it again")
            self._compiled[batch_size] = (model, model.create_infer_request())
        return self._compiled[batch_size]

    def onnx_path(self, batch_size: int) -> str:
        return os.path.join(self.cache_dir, model_cache.model_file_name(self.weights_id, self.config, batch_size))

    def compiled_path(self, batch_size: int) -> str:
        """Where the compiled model goes: named by its source (the ONNX file's name, or the int8
        model's files) and what else decides the compiled code (precision, threads, OpenVINO, CPU)."""
        if self.int8_model is not None:
            source = f"int8-{self.int8_model.digest[:24]}"
        else:
            source = os.path.splitext(os.path.basename(self.onnx_path(batch_size)))[0]
        detail = hashlib.sha256("\n".join([
            source, self.precision, str(self.threads), self._ov.__version__,
            self.core.get_property(DEVICE, "FULL_DEVICE_NAME"), ",".join(cpu_capabilities(self.core)),
        ]).encode()).hexdigest()[:12]
        return os.path.join(self.cache_dir, f"{source}-openvino-{self.precision}-{detail}.blob")

    def source_model(self, batch_size: int):
        """The `ov.Model` to compile: the int8 model (checked when opened), else the cached ONNX
        file (checked against its record; exported when missing or damaged)."""
        if self.int8_model is not None:
            return self.int8_model.read(self.core)
        return read_onnx(self.core, self.network, self.onnx_path(batch_size), batch_size)

    def _compile_and_keep(self, path, batch_size):
        compiled = self.core.compile_model(self.source_model(batch_size), DEVICE, self.properties)
        self._check_signature(compiled, batch_size)
        try:
            model_cache.write_model(path, compiled.export_model().getvalue())
        except OSError as error:  # a full disk costs the next start a compilation, nothing more
            log.warning("could not keep the compiled OpenVINO model in %s (%s)", path, error)
        return compiled

    def _import(self, path, batch_size):
        blob = model_cache.read_checked(path)
        # The properties are given again: the import does not restore them from the blob.
        compiled = self.core.import_model(blob, DEVICE, self.properties)
        self._check_signature(compiled, batch_size)
        return compiled

    def _check_signature(self, compiled, batch_size):
        check_signature(compiled, self.config, batch_size)


def check_signature(model, config, batch_size):
    """ValueError unless an OpenVINO model (compiled or not) has the network's inputs and outputs."""
    expected = model_cache.expected_signature(config, batch_size)
    found = ([(port.get_any_name(), list(port.get_partial_shape().to_shape())) for port in model.inputs],
             [(port.get_any_name(), list(port.get_partial_shape().to_shape())) for port in model.outputs])
    if found != expected:
        raise ValueError(f"its inputs/outputs {found} are not the network's {expected}")


def read_onnx(core, network, path, batch_size):
    """The network's cached ONNX file at `path` as an `ov.Model`: the bytes checked against their
    record and read by OpenVINO, or exported again when missing, damaged or unreadable."""
    def load(path):
        model = core.read_model(model_cache.read_checked(path))
        check_signature(model, network.config, batch_size)
        return model

    def build(path):
        model_cache.export_onnx(network, path, batch_size)
        return load(path)

    return model_cache.load_or_build(path, load, build, log, "ONNX model", "exporting it again")

