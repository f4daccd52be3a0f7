"""What the server runs: a pipeline, from the entry's optional ``create_pipeline`` hook or generic.

An entry offers rich inputs and outputs (encoded images in, detections out) with a function in
its ``hub_conf.py`` (or, installed, an entry point named like the model in the group
``mindspore_hub.create_pipeline``)::

    def create_pipeline(name, network, max_batch_size, **options):
        return MyPipeline(network, max_batch_size, **options)

(the server passes its ``max_batch_size``; other options are the user's, e.g. `mshub serve
--option score_threshold=0.3`.)
The object it returns has

- ``inputs`` and ``outputs``: lists of `TensorSpec` (or dicts of its fields, for an entry that
  does not import mindspore_hub); shapes batch dimension first (the server
  cuts requests along it into samples and stacks the samples' outputs back);
- ``prepare(sample) -> prepared``: one sample ({input name: array without the batch dimension})
  checked and made ready, run on a thread pool; raises a ValueError (such as `InputError`) for a
  bad one, answered 400 with its message;
- ``run_batch(prepared_list) -> list``: the model on up to max-batch-size prepared samples
  together, on the server's worker thread; one entry a sample, in order: {output name: array}
  or a ValueError for that sample alone (400; any other exception is a 500 for the batch);
- optionally ``warmup(max_batch_size)`` (compile the batch shapes before the server says ready),
  and, for the plain endpoint ``POST /v1/<task>``, ``task`` (e.g. "detect"), ``upload_input``
  (the BYTES input an uploaded file fills) and ``to_json(outputs) -> dict``.

An entry without the hook is served by `tensor_model.TensorModel`: FP32 tensors in and out.
"""

from __future__ import annotations

from .codec import TensorSpec

__all__ = ["InputError", "TensorSpec", "HOOK"]

HOOK = "create_pipeline"


class InputError(ValueError):
    """A sample the model cannot use (answered 400); the message names the problem."""

