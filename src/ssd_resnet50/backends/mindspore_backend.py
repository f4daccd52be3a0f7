"""The MindSpore backend: the inference network itself, compiled with `mindspore.jit`."""
import mindspore as ms
import numpy as np

from ..mindspore_versions import warn_if_slow_cpu_convolutions


class MindSporeBackend:
    """The network compiled once per input shape with `mindspore.jit` (graph mode for this
    call only, whatever the caller's global context mode is)."""

    name = "mindspore"

    def __init__(self, network):
        warn_if_slow_cpu_convolutions('inference with backend="mindspore"')
        network.set_train(False)
        self.network = network
        self._forward = ms.jit(network.construct)

    def __call__(self, batch: np.ndarray):
        boxes, scores = self._forward(ms.Tensor(batch))
        return boxes.asnumpy(), scores.asnumpy()
