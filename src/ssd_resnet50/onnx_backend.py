"""The onnxruntime backend: the loaded network exported once to ONNX, cached on disk, run by onnxruntime.

On a CPU this is about 1.5x faster than MindSpore's graph mode for the same outputs (within
about 1e-6). The ONNX file is made by `export.export_network` from the network as loaded,
so it holds exactly the weights the MindSpore backend would use.

Cache. Files live in `cache_dir` (default: `$SSD_RESNET50_ONNX_CACHE`, else `onnx/` in the
hub cache: `$MSHUB_DIR/onnx`, else `${XDG_CACHE_HOME:-~/.cache}/mindspore_hub/onnx`). A file
name holds what decides its content:

    <weights>-v<project version>-<H>x<W>-b<batch>-<detail>.onnx   (+ .json: size and sha256)

`<weights>` is the checkpoint's sha256 (given as `checkpoint=PATH`, hashed once a process, or
`checkpoint_sha256=HEX`), else a digest of the network's parameters; `<detail>` digests the
model configuration, the MindSpore version and the network's source code. MindSpore 2.8 cannot
export ONNX with an open batch dimension, so each batch size the backend meets gets its own
file (a Detector meets at most two: its batch size and a last partial batch). Files are written
under a temporary name and renamed; a cached file whose size, sha256 or contents do not check
out is rebuilt. Nothing needs the network connection.

The weights are read when a batch size is first used: do not change them after creating
the backend.
"""
import hashlib
import importlib.metadata
import json
import logging
import os
import re

import numpy as np

from .export import INPUT_NAMES, OUTPUT_NAMES, export_network

log = logging.getLogger(__name__)

CACHE_ENV = "SSD_RESNET50_ONNX_CACHE"
HUB_DIR_ENV = "MSHUB_DIR"  # mindspore_hub's documented cache variable
INSTALL_HINT = "pip install .[onnx]  (or: pip install onnxruntime)"
# Modules whose code decides the exported graph; their bytes are part of the cache key.
GRAPH_MODULES = ("anchors", "backbone", "codec", "config", "export", "heads", "layers", "model", "neck")


class BackendUnavailable(ImportError):
    """The requested backend cannot run here; the message says what to install."""


def import_onnxruntime():
    """The onnxruntime module, or BackendUnavailable saying how to install it."""
    try:
        import onnxruntime
    except ImportError as error:
        raise BackendUnavailable(f"the onnxruntime backend needs the onnxruntime package: {INSTALL_HINT} "
                                 f"({error})") from error
    return onnxruntime


def default_cache_dir() -> str:
    """Where exported models go unless `cache_dir=` says otherwise (see the module docstring)."""
    explicit = os.environ.get(CACHE_ENV, "").strip()
    if explicit:
        return os.path.abspath(os.path.expanduser(explicit))
    hub = os.environ.get(HUB_DIR_ENV, "").strip()
    if not hub:
        base = os.environ.get("XDG_CACHE_HOME", "").strip() or os.path.join("~", ".cache")
        hub = os.path.join(base, "mindspore_hub")
    return os.path.join(os.path.abspath(os.path.expanduser(hub)), "onnx")


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def project_version() -> str:
    try:
        return importlib.metadata.version("ssd-resnet50-hub")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


_file_digests = {}


def file_sha256(path) -> str:
    """Hex sha256 of a file, remembered for the process while its size and mtime stay the same."""
    path = os.path.realpath(path)
    stat = os.stat(path)
    key = (path, stat.st_size, stat.st_mtime_ns)
    if key not in _file_digests:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 22), b""):
                digest.update(block)
        _file_digests[key] = digest.hexdigest()
    return _file_digests[key]


def parameters_sha256(network) -> str:
    """Hex sha256 over every parameter's name, dtype, shape and values."""
    digest = hashlib.sha256()
    for name, param in network.parameters_and_names():
        value = np.ascontiguousarray(param.asnumpy())
        digest.update(f"{name}|{value.dtype.str}|{value.shape}\n".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def _graph_code_digest() -> str:
    digest = hashlib.sha256()
    here = os.path.dirname(os.path.abspath(__file__))
    for module in GRAPH_MODULES:
        with open(os.path.join(here, f"{module}.py"), "rb") as f:
            digest.update(f.read())
    return digest.hexdigest()


def model_file_name(weights_id: str, config, batch_size: int) -> str:
    """The cache file name for these weights, configuration and batch size."""
    import mindspore as ms

    height, width = config.image_size
    detail = hashlib.sha256("\n".join([
        weights_id, repr(config), f"mindspore {ms.__version__}", _graph_code_digest(),
    ]).encode()).hexdigest()
    return f"{weights_id[:24]}-v{project_version()}-{height}x{width}-b{int(batch_size)}-{detail[:12]}.onnx"


class OnnxRuntimeBackend:
    """Runs an inference network with onnxruntime (see the module docstring).

    Args:
        network: the inference network with its weights loaded.
        checkpoint: path of the checkpoint the weights came from (its sha256 keys the cache).
        checkpoint_sha256: that sha256, when already known (skips hashing the file).
        cache_dir: where exported models are kept (default: `default_cache_dir()`).
        threads: onnxruntime intra-op threads (default: the cores available to the process).
    """

    name = "onnxruntime"

    def __init__(self, network, *, checkpoint=None, checkpoint_sha256=None, cache_dir=None, threads=None):
        self._ort = import_onnxruntime()
        self.network = network
        self.config = network.config
        self.threads = int(threads) if threads else available_cores()
        self.cache_dir = os.path.abspath(os.fspath(cache_dir)) if cache_dir else default_cache_dir()
        os.makedirs(self.cache_dir, exist_ok=True)
        if not os.access(self.cache_dir, os.W_OK | os.X_OK):
            raise PermissionError(f"cannot write the ONNX cache directory {self.cache_dir}; "
                                  f"set {CACHE_ENV} to a writable directory")
        if checkpoint_sha256:
            self.weights_id = str(checkpoint_sha256).lower()
            if not re.fullmatch(r"[0-9a-f]{64}", self.weights_id):
                raise ValueError(f"checkpoint_sha256 must be 64 hex digits, got {checkpoint_sha256!r}")
        elif checkpoint is not None:
            self.weights_id = file_sha256(checkpoint)
        else:
            self.weights_id = "params" + parameters_sha256(network)[:58]
        self._sessions = {}

    def model_path(self, batch_size: int) -> str:
        return os.path.join(self.cache_dir, model_file_name(self.weights_id, self.config, batch_size))

    def __call__(self, batch: np.ndarray):
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        session = self.session(batch.shape[0])
        boxes, scores = session.run(list(OUTPUT_NAMES), {INPUT_NAMES[0]: batch})
        return boxes, scores

    def session(self, batch_size: int):
        """The onnxruntime session for this batch size: from the cache, else exported now."""
        if batch_size not in self._sessions:
            path = self.model_path(batch_size)
            session = None
            if os.path.exists(path):
                try:
                    session = self._open(path, batch_size)
                    log.debug("onnxruntime: reusing %s", path)
                except (OSError, ValueError, RuntimeError) as error:
                    log.warning("cached ONNX model %s is unusable (%s); exporting it again", path, error)
            if session is None:
                export_network(self.network, path, "ONNX", batch_size=batch_size)
                _write_record(path)
                session = self._open(path, batch_size)
            self._sessions[batch_size] = session
        return self._sessions[batch_size]

    def _open(self, path, batch_size):
        with open(path, "rb") as f:
            model = f.read()
        _check_record(path, model)
        options = self._ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = self._ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            session = self._ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own exception types for a bad model
            raise ValueError(f"onnxruntime cannot load it: {error}") from error
        self._check_signature(session, batch_size)
        return session

    def _check_signature(self, session, batch_size):
        height, width = self.config.image_size
        anchors, classes = self.config.num_anchors, self.config.num_classes
        expected = ([(INPUT_NAMES[0], [batch_size, 3, height, width])],
                    list(zip(OUTPUT_NAMES, ([batch_size, anchors, 4], [batch_size, anchors, classes]))))
        found = ([(i.name, list(i.shape)) for i in session.get_inputs()],
                 [(o.name, list(o.shape)) for o in session.get_outputs()])
        if found != expected:
            raise ValueError(f"its inputs/outputs {found} are not the network's {expected}")


def _record_path(path) -> str:
    return path + ".json"


def _write_record(path):
    """Size and sha256 of an exported model, next to it (written to a temporary name, then renamed)."""
    with open(path, "rb") as f:
        model = f.read()
    record = {"size": len(model), "sha256": hashlib.sha256(model).hexdigest(), "version": project_version()}
    partial = f"{_record_path(path)}.{os.getpid()}.part"
    with open(partial, "w") as f:
        json.dump(record, f)
    os.replace(partial, _record_path(path))


def _check_record(path, model: bytes):
    try:
        with open(_record_path(path)) as f:
            record = json.load(f)
        size, sha256 = int(record["size"]), str(record["sha256"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"its record {_record_path(path)} is missing or unreadable ({error})") from error
    if len(model) != size:
        raise ValueError(f"{len(model)} bytes where {size} were written")
    if hashlib.sha256(model).hexdigest() != sha256:
        raise ValueError("its sha256 differs from the one recorded when it was written")
