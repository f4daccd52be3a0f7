"""The server's options, checked once, with the defaults the README documents."""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..urls import is_loopback

API_KEY_ENV = "MSHUB_SERVE_API_KEY"
MB = 1 << 20


@dataclass(frozen=True)
class ServeSettings:
    """Args:
        host, port: where to listen (127.0.0.1 unless told otherwise; port 0: any free one).
        max_batch_size, max_delay_ms: a batch closes at this many samples or this long after its first.
        max_queue: samples that may wait for the model; beyond, 503 with Retry-After.
        workers: model calls that may run at once (threads).
        timeout: seconds a request may wait for its result (then 504).
        max_body_mb: larger request bodies get 413.
        api_key: bearer token every request but health and the page needs (default: $MSHUB_SERVE_API_KEY).
        insecure_no_auth: allow a non-loopback host without api_key.
        cors_origins: origins allowed to call from a browser page of theirs (default none: CORS off).
        grace: seconds SIGTERM waits for accepted requests before it stops anyway.
    """

    host: str = "127.0.0.1"
    port: int = 8080
    max_batch_size: int = 8
    max_delay_ms: float = 5.0
    max_queue: int = 64
    workers: int = 1
    timeout: float = 30.0
    max_body_mb: float = 20.0
    api_key: str | None = None
    insecure_no_auth: bool = False
    cors_origins: tuple = ()
    grace: float = 30.0

    def __post_init__(self):
        if self.api_key is None and os.environ.get(API_KEY_ENV):
            object.__setattr__(self, "api_key", os.environ[API_KEY_ENV])
        for name in ("max_batch_size", "max_queue", "workers"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("max_delay_ms", "timeout", "max_body_mb", "grace"):
            if not float(getattr(self, name)) >= 0:
                raise ValueError(f"{name} must be a number of at least 0, got {getattr(self, name)}")
        if not 0 <= int(self.port) <= 65535:
            raise ValueError(f"port must be 0..65535, got {self.port}")
        if not is_loopback(self.host) and not self.api_key and not self.insecure_no_auth:
            raise ValueError(f"binding {self.host} exposes the model beyond this machine: give an API key "
                             f"(--api-key or ${API_KEY_ENV}) or say --insecure-no-auth")

    @property
    def max_body(self) -> int:
        return int(self.max_body_mb * MB)

