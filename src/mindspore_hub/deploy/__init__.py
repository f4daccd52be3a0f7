"""Model serving: ``serving(name, port=8080)``, upstream's signature, made real.

Upstream declares ``mindspore_hub.deploy.serving`` and raises NotImplementedError. Here it
loads the model with `mindspore_hub.load` (same trust, verification and offline rules) and
serves it over HTTP with the Open Inference Protocol (KServe v2: the REST API Triton, KServe,
MLServer and OpenVINO Model Server speak, so their clients work), with dynamic batching,
admission control, Prometheus metrics and a page at ``/``. The loader stays model-agnostic: an
entry may provide a pipeline (encoded images in, detections out, say) with the optional hook
``create_pipeline(name, network, **options)`` in its ``hub_conf.py`` (see `pipeline`); an
entry without one is served as a tensor model (FP32 tensors in and out).

>>> from mindspore_hub.deploy import serving
>>> serving("mindspore/ascend/1.3/ssdresnet50_v1.3_coco2017", port=8080)   # doctest: +SKIP
"""

from __future__ import annotations

import os

from ..errors import HubError
from .codec import TensorSpec
from .pipeline import InputError
from .settings import API_KEY_ENV, ServeSettings

__all__ = ["serving", "load_pipeline", "serve_pipeline", "ServeSettings", "TensorSpec", "InputError", "API_KEY_ENV",
           "ServeUnavailable"]


def serving(name: str | os.PathLike[str], port: int = 8080, host: str = "127.0.0.1", *,
            source: str | None = None, trust_repo: bool | None = None, pipeline_options: dict | None = None,
            **options) -> int:
    """Load hub model `name` and serve it until SIGTERM or Ctrl-C; returns 0 when every accepted
    request was answered.

    `options` are `ServeSettings` fields (max_batch_size, max_delay_ms, max_queue, workers,
    timeout, max_body_mb, api_key, insecure_no_auth, cors_origins, grace);
    `pipeline_options` go to the entry's ``create_pipeline`` (for the generic tensor model:
    ``input_shape``; the server adds ``max_batch_size``). `source` and `trust_repo` are `mindspore_hub.load`'s.
    """
    settings = ServeSettings(host=host, port=port, **options)  # refuse bad options before loading anything
    _server()
    pipeline, model = load_pipeline(name, settings, source=source, trust_repo=trust_repo, **(pipeline_options or {}))
    return serve_pipeline(pipeline, model, settings)


def load_pipeline(name, settings: ServeSettings, *, source=None, trust_repo=None, **pipeline_options):
    """(pipeline, model name) for hub model `name`: its network from `mindspore_hub.load`, wrapped
    by the entry's ``create_pipeline`` hook or the generic tensor model."""
    from .. import code, index, load, names
    from .pipeline import HOOK
    from .tensor_model import TensorModel

    meta = index.lookup(names.parse(name, source), source, False)
    network = load(name, source=source, trust_repo=trust_repo)
    hook = code.find_entry(meta, trust_repo=trust_repo).hook(meta.model_name, HOOK)
    model = meta.model_name.lower()
    if hook is None:
        return TensorModel(network, max_batch_size=settings.max_batch_size, **pipeline_options), model
    return hook(model, network, max_batch_size=settings.max_batch_size, **pipeline_options), model


class ServeUnavailable(HubError, ImportError):
    """The [serve] extra is not installed."""


def serve_pipeline(pipeline, name: str, settings: ServeSettings) -> int:
    """Serve an already built pipeline as model `name` (the short form ``ssd-resnet50 serve`` uses this)."""
    return _server().serve_pipeline(pipeline, name, settings)


def _server():
    """The server module, or ServeUnavailable saying what to install (checked before a model loads)."""
    try:
        from . import server
    except ImportError as error:
        raise ServeUnavailable(f"serving needs the [serve] extra ({error}): pip install fastapi uvicorn "
                               "prometheus_client python-multipart (or this project with [serve])") from error
    return server
