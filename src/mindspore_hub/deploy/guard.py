"""What every request passes before and after the routes: the bearer token, the body size
limit, the metrics and the access log (one JSON line a request). A plain ASGI middleware, so
that the size limit applies while the body arrives, not after it has been read whole.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import time

access_log = logging.getLogger("mindspore_hub.deploy.access")

OPEN_PATHS = re.compile(r"^/($|static/|favicon\.ico$|docs|redoc|openapi\.json$|v2/health/)")  # no token: the
# page, the API docs (a browser cannot send the token) and health checks
ROUTES = [  # metric label of a path: a fixed set, whatever paths clients send
    ("infer", re.compile(r"^/v2/models/[^/]+(/versions/[^/]+)?/infer$")),
    ("model", re.compile(r"^/v2/models/[^/]+(/versions/[^/]+)?(/ready)?$")),
    ("health", re.compile(r"^/v2/health/")),
    ("task", re.compile(r"^/v1/")),
    ("metrics", re.compile(r"^/metrics$")),
    ("page", re.compile(r"^/($|static/)")),
]


class BodyTooLarge(Exception):
    pass


def route_of(path: str) -> str:
    return next((name for name, pattern in ROUTES if pattern.match(path)), "other")


class Guard:
    def __init__(self, app, *, max_body: int, api_key: str | None, metrics):
        self.app, self.max_body, self.api_key, self.metrics = app, max_body, api_key, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started, path = time.monotonic(), scope["path"]
        state = {"status": None, "received": 0}

        async def sending(message):
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
            await send(message)

        async def receiving():
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > self.max_body:
                    raise BodyTooLarge()
            return message

        try:
            refusal = self._refusal(scope)
            if refusal is not None:
                await _error(sending, *refusal)
            else:
                try:
                    await self.app(scope, receiving, sending)
                except BodyTooLarge:
                    if state["status"] is None:
                        await _error(sending, 413, self._too_large())
        finally:
            status = state["status"] or 499  # 499: the client went away before an answer
            elapsed = time.monotonic() - started
            self.metrics.observe_request(route_of(path), status, elapsed)
            client = scope.get("client") or ("", 0)
            access_log.info(json.dumps({
                "time": round(time.time(), 3), "client": f"{client[0]}:{client[1]}", "method": scope["method"],
                "path": path, "status": status, "ms": round(elapsed * 1000, 1), "bytes_in": state["received"]}))

    def _refusal(self, scope):
        headers = dict(scope["headers"])
        if self.api_key and scope["method"] != "OPTIONS" and not OPEN_PATHS.match(scope["path"]):  # a CORS
            # preflight carries no credentials
            given = headers.get(b"authorization", b"").decode("latin-1")
            scheme, _, token = given.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), self.api_key.encode()):
                return 401, "missing or wrong API key: send the header 'Authorization: Bearer <key>'", {
                    "WWW-Authenticate": "Bearer"}
        length = headers.get(b"content-length")
        if length is not None:
            try:
                if int(length) > self.max_body:
                    return 413, self._too_large(), {}
            except ValueError:
                return 400, "Content-Length is not a number", {}
        return None

    def _too_large(self) -> str:
        return f"the request body is larger than the limit of {self.max_body} bytes (the server's --max-body-mb)"


async def _error(send, status: int, message: str, headers: dict | None = None) -> None:
    body = json.dumps({"error": message}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
           (b"connection", b"close")]
    raw += [(key.lower().encode(), value.encode()) for key, value in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
