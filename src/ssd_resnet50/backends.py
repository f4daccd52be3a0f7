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


def make_backend(name, network, **options):
    """Build the backend `name` for an inference network (see BACKENDS)."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    if name == "onnxruntime":
        raise NotImplementedError("the onnxruntime backend is not available in this build")
    log.debug("backend %s -> mindspore", name)
    return MindSporeBackend(network)
