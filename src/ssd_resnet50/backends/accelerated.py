"""A backend wrapped as an `nn.Cell`: the network as `mindspore_hub.optimize.transform` returns it.

Upstream's `transform` promises a Cell; this one is called like the inference network (a
pre-processed float32 batch [B, 3, H, W] in, (boxes, scores) Tensors out) while OpenVINO or
onnxruntime does the work, outside MindSpore's graph, in PyNative and graph mode alike.
`Detector(accelerated)` uses its backend.
"""
import mindspore as ms
import numpy as np
from mindspore import nn


class AcceleratedNetwork(nn.Cell):
    """`source` (the inference network, kept for its config and labels) run by `backend`."""

    def __init__(self, source, backend):
        super().__init__()
        object.__setattr__(self, "source", source)  # not a sub-cell: its weights are compiled into the backend
        self.config = source.config
        self.backend = backend

    def __call__(self, images):
        batch = images.asnumpy() if isinstance(images, ms.Tensor) else np.asarray(images)
        boxes, scores = self.backend(np.ascontiguousarray(batch, dtype=np.float32))
        return ms.Tensor(boxes), ms.Tensor(scores)

    def construct(self, images):
        return self(images)

    def __repr__(self):
        precision = getattr(self.backend, "precision", "fp32")
        return f"AcceleratedNetwork(backend={self.backend.name}, precision={precision})"
