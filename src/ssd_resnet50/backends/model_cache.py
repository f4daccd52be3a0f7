"""The on-disk cache of exported models that the backends running an exported graph share.

Files live in `cache_dir` (default: `$SSD_RESNET50_ONNX_CACHE`, else `onnx/` in the hub
cache: `$MSHUB_DIR/onnx`, else `${XDG_CACHE_HOME:-~/.cache}/mindspore_hub/onnx`). A file
name holds what decides its content:

    <weights>-v<project version>-<H>x<W>-b<batch>-<detail>.onnx   (+ .json: size and sha256)

`<weights>` is the checkpoint's sha256 (given as a path, hashed once a process, or as hex),
else a digest of the network's parameters; `<detail>` digests the model configuration, the
MindSpore version and the network's source code. Files are written under a temporary name
and renamed, with a record of their size and sha256 beside them, so a cached file that does
not check out is detected and rebuilt. Nothing needs the network connection.
"""
import hashlib
import importlib.metadata
import json
import os
import re

import numpy as np

from ..model.exporting import INPUT_NAMES, OUTPUT_NAMES, export_network

CACHE_ENV = "SSD_RESNET50_ONNX_CACHE"
HUB_DIR_ENV = "MSHUB_DIR"  # mindspore_hub's documented cache variable
# Modules of ssd_resnet50.model whose code decides the exported graph; their bytes are part of the key.
GRAPH_MODULES = ("anchors", "backbone", "codec", "config", "exporting", "heads", "layers", "network", "neck")


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


def prepare_cache_dir(cache_dir=None) -> str:
    """The cache directory (given or default), created; PermissionError when it is not writable."""
    path = os.path.abspath(os.fspath(cache_dir)) if cache_dir else default_cache_dir()
    os.makedirs(path, exist_ok=True)
    if not os.access(path, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot write the exported-model cache directory {path}; "
                              f"set {CACHE_ENV} to a writable directory")
    return path


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


def weights_id(network, checkpoint=None, checkpoint_sha256=None) -> str:
    """What identifies the network's weights in a cache key: the checkpoint's sha256 (given, or
    hashed from the file), else a digest of the parameters."""
    if checkpoint_sha256:
        found = str(checkpoint_sha256).lower()
        if not re.fullmatch(r"[0-9a-f]{64}", found):
            raise ValueError(f"checkpoint_sha256 must be 64 hex digits, got {checkpoint_sha256!r}")
        return found
    if checkpoint is not None:
        return file_sha256(checkpoint)
    return "params" + parameters_sha256(network)[:58]


def _graph_code_digest() -> str:
    digest = hashlib.sha256()
    model_dir = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "model")
    for module in GRAPH_MODULES:
        with open(os.path.join(model_dir, f"{module}.py"), "rb") as f:
            digest.update(f.read())
    return digest.hexdigest()


def model_file_name(weights: str, config, batch_size: int) -> str:
    """The cache file name for these weights (`weights_id`), configuration and batch size."""
    import mindspore as ms

    height, width = config.image_size
    detail = hashlib.sha256("\n".join([
        weights, repr(config), f"mindspore {ms.__version__}", _graph_code_digest(),
    ]).encode()).hexdigest()
    return f"{weights[:24]}-v{project_version()}-{height}x{width}-b{int(batch_size)}-{detail[:12]}.onnx"


def export_onnx(network, path, batch_size: int) -> str:
    """Export the network to the cached ONNX file `path` (atomically) and record its size and sha256."""
    export_network(network, path, "ONNX", batch_size=batch_size)
    write_record(path)
    return path


def record_path(path) -> str:
    return path + ".json"


def write_record(path, model: bytes = None):
    """Size and sha256 of an exported model (`model`: its bytes, else read from `path`), next to it
    (written to a temporary name, then renamed)."""
    if model is None:
        with open(path, "rb") as f:
            model = f.read()
    record = {"size": len(model), "sha256": hashlib.sha256(model).hexdigest(), "version": project_version()}
    partial = f"{record_path(path)}.{os.getpid()}.part"
    with open(partial, "w") as f:
        json.dump(record, f)
    os.replace(partial, record_path(path))


def write_model(path, model: bytes):
    """Keep `model` at `path` with its record: a temporary name first, then renamed, so a reader
    finds the old file, the complete new one, or none."""
    partial = f"{path}.{os.getpid()}.part"
    with open(partial, "wb") as f:
        f.write(model)
    os.replace(partial, path)
    write_record(path, model)


def read_checked(path) -> bytes:
    """The bytes of a cached model, ValueError unless they are what its record says was written."""
    with open(path, "rb") as f:
        model = f.read()
    check_record(path, model)
    return model


def load_or_build(path, load, build, log, what, again):
    """`load(path)` when a cached file is there and loads, else `build(path)`.

    A cached file that does not load (`load` raises OSError, ValueError or RuntimeError: its
    record does not match, or the engine refuses it) is logged as "`what` PATH is unusable
    (why); `again`" and built anew, so a damaged cache repairs itself.
    """
    if os.path.exists(path):
        try:
            found = load(path)
            log.debug("reusing the cached %s %s", what, path)
            return found
        except (OSError, ValueError, RuntimeError) as error:
            log.warning("cached %s %s is unusable (%s); %s", what, path, error, again)
    return build(path)


def expected_signature(config, batch_size: int):
    """(inputs, outputs) of the exported network as [(name, shape)] lists, to check a loaded model against."""
    height, width = config.image_size
    anchors, classes = config.num_anchors, config.num_classes
    return ([(INPUT_NAMES[0], [batch_size, 3, height, width])],
            list(zip(OUTPUT_NAMES, ([batch_size, anchors, 4], [batch_size, anchors, classes]))))


def check_record(path, model: bytes):
    """ValueError unless `model` (the bytes of the file at `path`) is what was recorded when written."""
    try:
        with open(record_path(path)) as f:
            record = json.load(f)
        size, sha256 = int(record["size"]), str(record["sha256"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"its record {record_path(path)} is missing or unreadable ({error})") from error
    if len(model) != size:
        raise ValueError(f"{len(model)} bytes where {size} were written")
    if hashlib.sha256(model).hexdigest() != sha256:
        raise ValueError("its sha256 differs from the one recorded when it was written")
