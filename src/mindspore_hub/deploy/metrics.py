"""The server's Prometheus metrics, in a registry of its own (two servers in a process stay apart).

    mshub_requests_total{route, status}      requests answered, by route and HTTP status
    mshub_request_seconds{route}             latency histogram, arrival to response
    mshub_batch_size                         samples a model call (histogram)
    mshub_queue_depth                        samples waiting for a model call now
    mshub_samples_total                      samples (images, for a detector) run by the model
    mshub_samples_per_second                 of those, over the last 10 s
"""

from __future__ import annotations

import threading
import time
from collections import deque

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

RATE_WINDOW = 10.0  # seconds over which samples_per_second is measured
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class ServerMetrics:
    def __init__(self, max_batch_size: int):
        self.registry = CollectorRegistry()
        self.requests = Counter("mshub_requests", "Requests answered, by route and HTTP status",
                                ["route", "status"], registry=self.registry)
        self.latency = Histogram("mshub_request_seconds", "Time from a request's arrival to its response",
                                 ["route"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.batch_size = Histogram("mshub_batch_size", "Samples a model call",
                                    buckets=sorted({1, 2, 4, 8, 16, 32, 64, max_batch_size}), registry=self.registry)
        self.queue_depth = Gauge("mshub_queue_depth", "Samples waiting for a model call", registry=self.registry)
        self.samples = Counter("mshub_samples", "Samples run by the model", registry=self.registry)
        Gauge("mshub_samples_per_second", f"Samples run a second, over the last {RATE_WINDOW:g} s",
              registry=self.registry).set_function(self._rate)
        self._recent: deque = deque()  # (time, samples) of recent batches
        self._lock = threading.Lock()

    def observe_batch(self, batch_size: int, queue_depth: int) -> None:
        """From the batcher: a batch starts (size 0: only the queue changed)."""
        self.queue_depth.set(queue_depth)
        if batch_size:
            self.batch_size.observe(batch_size)
            self.samples.inc(batch_size)
            with self._lock:
                self._recent.append((time.monotonic(), batch_size))

    def observe_request(self, route: str, status: int, seconds: float) -> None:
        self.requests.labels(route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def _rate(self) -> float:
        now = time.monotonic()
        with self._lock:
            while self._recent and self._recent[0][0] < now - RATE_WINDOW:
                self._recent.popleft()
            return sum(count for _, count in self._recent) / RATE_WINDOW
