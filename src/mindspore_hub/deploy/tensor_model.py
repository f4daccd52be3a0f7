"""The pipeline of an entry without one: the network on FP32 tensors, in and out.

One input, ``input`` (FP32, batch first); outputs ``output_0`` ... (a network returning a tuple
has several), FP32. With `input_shape` (a sample's shape, batch dimension left out) the
metadata states it, requests are checked against it, and `warmup` runs the network once on
each batch shape so the server is ready only when both are compiled; without it any shape is
accepted and samples of one shape are batched together.
"""

from __future__ import annotations

import numpy as np

from .codec import TensorSpec
from .pipeline import InputError


class TensorModel:
    def __init__(self, network, input_shape=None, max_batch_size=None, **options):
        if options:
            raise TypeError(f"the generic tensor model takes no options {sorted(options)} (only input_shape)")
        self.network = network
        network.set_train(False)
        self.input_shape = None if input_shape is None else tuple(int(d) for d in input_shape)
        shape = (-1,) + self.input_shape if self.input_shape is not None else None
        self.inputs = [TensorSpec("input", "FP32", shape)]
        self.outputs = [TensorSpec("output_0", "FP32", None)]

    def prepare(self, sample: dict) -> np.ndarray:
        array = np.ascontiguousarray(sample["input"], dtype=np.float32)
        if not np.isfinite(array).all():
            raise InputError("input holds NaN or infinite values")
        return array

    def run_batch(self, prepared: list) -> list:
        results = [None] * len(prepared)
        groups: dict = {}
        for index, array in enumerate(prepared):
            groups.setdefault(array.shape, []).append(index)
        for indices in groups.values():
            outputs = self._forward(np.stack([prepared[i] for i in indices]))
            for row, index in enumerate(indices):
                results[index] = {f"output_{k}": output[row] for k, output in enumerate(outputs)}
        return results

    def warmup(self, max_batch_size: int) -> None:
        if self.input_shape is None:
            return
        for batch in sorted({1, max_batch_size}):
            self._forward(np.zeros((batch,) + self.input_shape, np.float32))

    def _forward(self, batch: np.ndarray) -> list:
        import mindspore

        result = self.network(mindspore.Tensor(batch))
        outputs = [np.asarray(o.asnumpy(), np.float32) for o in (result if isinstance(result, (tuple, list))
                                                                 else (result,))]
        if len(outputs) != len(self.outputs) or self.outputs[0].shape is None:
            self.outputs = [TensorSpec(f"output_{k}", "FP32", (-1,) + o.shape[1:]) for k, o in enumerate(outputs)]
        return outputs
