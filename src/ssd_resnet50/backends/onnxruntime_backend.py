"""The onnxruntime backend: the loaded network exported once to ONNX, cached on disk, run by onnxruntime.

On a CPU this is about 1.5x faster than MindSpore's graph mode for the same outputs (within
about 1e-6). The ONNX file is made by `model.exporting.export_network` from the network as
loaded, so it holds exactly the weights the MindSpore backend would use; `model_cache` says
where it is kept and how it is keyed and checked. MindSpore 2.8 cannot export ONNX with an
open batch dimension, so each batch size the backend meets gets its own file (a Detector
meets at most two: its batch size and a last partial batch).

The weights are read when a batch size is first used: do not change them after creating
the backend.
"""
import logging
import os

import numpy as np

from ..model.exporting import INPUT_NAMES, OUTPUT_NAMES
from . import model_cache
from .cpu import available_cores
from .errors import BackendUnavailable

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install .[onnx]  (or: pip install onnxruntime)"


def import_onnxruntime():
    """The onnxruntime module, or BackendUnavailable saying how to install it."""
    try:
        import onnxruntime
    except ImportError as error:
        raise BackendUnavailable(f"the onnxruntime backend needs the onnxruntime package: {INSTALL_HINT} "
                                 f"({error})") from error
    return onnxruntime


class OnnxRuntimeBackend:
    """Runs an inference network with onnxruntime (see the module docstring).

    Args:
        network: the inference network with its weights loaded.
        checkpoint: path of the checkpoint the weights came from (its sha256 keys the cache).
        checkpoint_sha256: that sha256, when already known (skips hashing the file).
        cache_dir: where exported models are kept (default: `model_cache.default_cache_dir()`).
        threads: onnxruntime intra-op threads (default: the cores available to the process).
    """

    name = "onnxruntime"

    def __init__(self, network, *, checkpoint=None, checkpoint_sha256=None, cache_dir=None, threads=None):
        self._ort = import_onnxruntime()
        self.network = network
        self.config = network.config
        self.threads = int(threads) if threads else available_cores()
        self.cache_dir = model_cache.prepare_cache_dir(cache_dir)
        self.weights_id = model_cache.weights_id(network, checkpoint, checkpoint_sha256)
        self._sessions = {}

    def model_path(self, batch_size: int) -> str:
        return os.path.join(self.cache_dir, model_cache.model_file_name(self.weights_id, self.config, batch_size))

    def __call__(self, batch: np.ndarray):
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        session = self.session(batch.shape[0])
        boxes, scores = session.run(list(OUTPUT_NAMES), {INPUT_NAMES[0]: batch})
        return boxes, scores

    def session(self, batch_size: int):
        """The onnxruntime session for this batch size: from the cache, else exported now."""
        if batch_size not in self._sessions:
            self._sessions[batch_size] = model_cache.load_or_build(
                self.model_path(batch_size), lambda path: self._open(path, batch_size),
                lambda path: self._export(path, batch_size), log, "ONNX model", "exporting it again")
        return self._sessions[batch_size]

    def _export(self, path, batch_size):
        model_cache.export_onnx(self.network, path, batch_size)
        return self._open(path, batch_size)

    def _open(self, path, batch_size):
        model = model_cache.read_checked(path)
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
        expected = model_cache.expected_signature(self.config, batch_size)
        found = ([(i.name, list(i.shape)) for i in session.get_inputs()],
                 [(o.name, list(o.shape)) for o in session.get_outputs()])
        if found != expected:
            raise ValueError(f"its inputs/outputs {found} are not the network's {expected}")
