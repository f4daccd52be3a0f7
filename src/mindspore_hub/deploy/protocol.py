"""The HTTP routes: the Open Inference Protocol (KServe v2) REST API, the plain `/v1/<task>`
endpoint, `/metrics` and the page at `/`, on FastAPI.

    GET  /v2/health/live | /v2/health/ready       liveness; ready once the batch shapes are warmed
    GET  /v2  /v2/models/{name}  /v2/models/{name}/ready
    POST /v2/models/{name}/infer                   JSON tensors, or the binary tensor data extension
    POST /v1/{task}                                one uploaded file (multipart or raw body) -> JSON
    GET  /metrics                                  Prometheus text

Every error is a JSON object ``{"error": "..."}`` naming the problem, as the protocol has it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import asynccontextmanager
from importlib import resources

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from . import codec
from .batching import Batcher, DeadlineExceeded, QueueFull
from .guard import BodyTooLarge, Guard
from .metrics import ServerMetrics

log = logging.getLogger(__name__)

BINARY_HEADER = "inference-header-content-length"
INFER_TYPES = ("", "application/json", "application/octet-stream")
UPLOAD_TYPES = ("application/octet-stream",)  # and image/*, multipart/form-data
RETRY_AFTER = "1"  # seconds a client refused for a full queue should wait


class Refused(Exception):
    """An answer other than 200: status, message, headers."""

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.headers = status, headers or {}


class ModelServer:
    """One pipeline served under `name`: its batcher, metrics, readiness."""

    def __init__(self, pipeline, name: str, settings):
        self.pipeline, self.name, self.settings = pipeline, name, settings
        self.metrics = ServerMetrics(settings.max_batch_size)
        self.batcher = Batcher(pipeline.run_batch, max_batch_size=settings.max_batch_size,
                               max_delay=settings.max_delay_ms / 1000, max_queue=settings.max_queue,
                               workers=settings.workers, observe=self.metrics.observe_batch)
        self.ready = False
        self.warmup_error = None

    async def start(self) -> None:
        await self.batcher.start()
        asyncio.get_running_loop().run_in_executor(None, self._warmup)

    def _warmup(self) -> None:
        started = time.monotonic()
        try:
            warmup = getattr(self.pipeline, "warmup", None)
            if warmup is not None:
                warmup(self.settings.max_batch_size)
        except Exception as error:  # not ready, and /v2/health/ready says why
            self.warmup_error = f"{type(error).__name__}: {error}"
            log.exception("warm-up failed")
            return
        self.ready = True
        log.info("model %s ready (warm-up %.1f s)", self.name, time.monotonic() - started)

    async def infer(self, samples: list) -> list:
        """Outputs of each sample ({name: array}); Refused for a bad sample, a full queue, a deadline."""
        if not self.ready:
            raise Refused(503, f"model {self.name!r} is not ready yet (warming up)", {"Retry-After": RETRY_AFTER})
        if self.batcher.waiting + len(samples) > self.batcher.max_queue:  # refuse before preparing
            raise self._full()
        prepared = await run_in_threadpool(self._prepare, samples)
        try:
            results = await self.batcher.submit(prepared, self.settings.timeout)
        except QueueFull:
            raise self._full() from None
        except DeadlineExceeded as error:
            raise Refused(504, f"{error} (the server's --timeout); try again, or lower the load") from None
        for index, result in enumerate(results):
            if isinstance(result, ValueError):
                raise self._bad(result, index, len(results))
            if isinstance(result, Exception):
                raise Refused(500, f"the model failed: {result}")
        return results

    def _prepare(self, samples: list) -> list:
        prepared = []
        for index, sample in enumerate(samples):
            try:
                prepared.append(self.pipeline.prepare(sample))
            except ValueError as error:  # InputError, or an entry's own (ssd_resnet50's ImageError)
                raise self._bad(error, index, len(samples)) from None
        return prepared

    @staticmethod
    def _bad(error, index: int, count: int) -> Refused:
        return Refused(400, str(error) if count == 1 else f"sample {index}: {error}")

    def _full(self) -> Refused:
        return Refused(503, f"the server is at capacity ({self.batcher.max_queue} samples waiting, its --max-queue); "
                            f"retry after {RETRY_AFTER} s", {"Retry-After": RETRY_AFTER})

    def check_model(self, name: str) -> None:
        if name != self.name:
            raise Refused(404, f"unknown model {name!r}; this server serves {self.name!r}")

    def specs(self, kind: str) -> list:
        """The pipeline's "inputs" or "outputs" as TensorSpecs."""
        return [codec.TensorSpec.of(item) for item in getattr(self.pipeline, kind)]

    def metadata(self) -> dict:
        return {"name": self.name, "versions": ["1"], "platform": "mindspore",
                "inputs": [spec.metadata() for spec in self.specs("inputs")],
                "outputs": [spec.metadata() for spec in self.specs("outputs")]}


def create_app(pipeline, name: str, settings):
    """The ASGI application serving `pipeline` as model `name` (see `ServeSettings`)."""
    server = ModelServer(pipeline, name, settings)

    @asynccontextmanager
    async def lifespan(app):
        await server.start()
        yield
        await server.batcher.stop()

    app = FastAPI(title=f"{name} (MindSpore Hub)", lifespan=lifespan,
                  description="The Open Inference Protocol (KServe v2) and a plain upload endpoint.")
    app.state.server = server

    @app.exception_handler(Refused)
    async def refused(request, error: Refused):
        return JSONResponse({"error": str(error)}, error.status, headers=error.headers)

    @app.exception_handler(HTTPException)
    async def http_error(request, error: HTTPException):
        return JSONResponse({"error": str(error.detail)}, error.status_code, headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request, error: RequestValidationError):
        return JSONResponse({"error": f"bad request: {error.errors()}"}, 400)

    @app.exception_handler(Exception)
    async def failed(request, error: Exception):  # a bug or a failing pipeline: still a JSON answer
        log.exception("%s %s failed", request.method, request.url.path)
        return JSONResponse({"error": f"internal error: {type(error).__name__}: {error}"}, 500)

    @app.exception_handler(BodyTooLarge)
    async def too_large(request, error):
        return JSONResponse({"error": f"the request body is larger than the limit of {settings.max_body} bytes "
                                      "(the server's --max-body-mb)"}, 413, headers={"Connection": "close"})

    @app.get("/v2/health/live")
    async def live():
        return {"live": True}

    @app.get("/v2/health/ready")
    async def ready():
        if server.ready:
            return {"ready": True}
        return JSONResponse({"ready": False, "error": server.warmup_error or "warming up"}, 503)

    @app.get("/v2")
    async def server_metadata():
        return {"name": "mindspore_hub", "version": "1", "extensions": ["binary_tensor_data"]}

    @app.get("/v2/models/{model}")
    @app.get("/v2/models/{model}/versions/{version}")
    async def model_metadata(model: str):
        server.check_model(model)
        return server.metadata()

    @app.get("/v2/models/{model}/ready")
    @app.get("/v2/models/{model}/versions/{version}/ready")
    async def model_ready(model: str):
        server.check_model(model)
        return JSONResponse({"name": model, "ready": server.ready}, 200 if server.ready else 503)

    @app.post("/v2/models/{model}/infer")
    @app.post("/v2/models/{model}/versions/{version}/infer")
    async def infer(model: str, request: Request):
        server.check_model(model)
        header_length = request.headers.get(BINARY_HEADER)
        kind = _content_type(request)
        if kind not in INFER_TYPES:
            raise Refused(415, f"content type {kind!r}: an infer request is application/json, or "
                               "application/octet-stream with the Inference-Header-Content-Length header")
        body = await _body(request)
        try:  # parsing and encoding run on the thread pool: a large body must not hold the event loop
            decoded = await run_in_threadpool(codec.decode_request, body, header_length, server.specs("inputs"))
            codec.check_outputs(decoded, server.specs("outputs"))
            samples = _samples(decoded.inputs)
        except codec.ProtocolError as error:
            raise Refused(400, str(error)) from None
        results = await server.infer(samples)
        outputs = server.specs("outputs")  # after the run: a generic model learns its outputs on the first
        payload, json_length = await run_in_threadpool(
            lambda: codec.encode_response(model, decoded, codec.stack(results, outputs), outputs))
        if json_length is None:
            return Response(payload, media_type="application/json")
        return Response(payload, media_type="application/octet-stream",
                        headers={"Inference-Header-Content-Length": str(json_length)})

    task = getattr(pipeline, "task", None)
    if task:
        @app.post(f"/v1/{task}", summary=f"{task}: one file, as multipart (field 'file') or the raw body")
        async def upload(request: Request):
            started = time.monotonic()
            data = await _upload(request)
            sample = {pipeline.upload_input: np.array(data, dtype=object)}
            outputs = (await server.infer([sample]))[0]
            return dict(pipeline.to_json(outputs), model=name, time_ms=round((time.monotonic() - started) * 1000, 1))

    @app.get("/metrics")
    async def metrics():
        return Response(server.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    page = resources.files(__package__) / "webpage"

    @app.get("/", include_in_schema=False)
    async def index():
        return Response((page / "index.html").read_bytes(), media_type="text/html; charset=utf-8")

    app.mount("/static", StaticFiles(packages=[(__package__, "webpage")]), name="static")
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type", "Inference-Header-Content-Length"])
    return Guard(app, max_body=settings.max_body, api_key=settings.api_key, metrics=server.metrics)


def _content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def _body(request: Request) -> bytes:
    try:
        return await request.body()
    except ClientDisconnect:
        raise Refused(499, "the client went away") from None


async def _upload(request: Request) -> bytes:
    """The uploaded file: the first file of a multipart form, or the raw body of an image type."""
    kind = _content_type(request)
    if kind == "multipart/form-data":
        try:
            form = await request.form(max_files=1, max_fields=16)
        except ClientDisconnect:
            raise Refused(499, "the client went away") from None
        except Exception as error:  # python-multipart's errors for a malformed form
            if isinstance(error, BodyTooLarge):
                raise
            raise Refused(400, f"malformed multipart form ({error})") from None
        files = [value for _, value in form.multi_items() if hasattr(value, "read")]
        if not files:
            raise Refused(400, "the multipart form holds no file: send it as a file field, e.g. "
                               "curl -F file=@photo.jpg")
        return await files[0].read()
    if kind.startswith("image/") or kind in UPLOAD_TYPES:
        return await _body(request)
    raise Refused(415, f"content type {kind or '(none)'!r}: send the image as multipart/form-data "
                       "(curl -F file=@photo.jpg), or as the raw body with an image/* or "
                       "application/octet-stream content type")


def _samples(inputs: dict) -> list:
    """The request's inputs cut along the batch dimension into samples."""
    counts = {name: array.shape[0] for name, array in inputs.items()}
    if len(set(counts.values())) != 1:
        raise codec.ProtocolError(f"the inputs' first (batch) dimensions differ: {counts}")
    count = next(iter(counts.values()))
    return [{name: array[index] for name, array in inputs.items()} for index in range(count)]
