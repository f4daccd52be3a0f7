"""A threaded HTTP server on 127.0.0.1 serving test files, misbehaving on request.

Each route can answer some statuses first (429, 503...), drop the connection part-way
once or every time, stall part-way until the server stops, never answer, ignore Range,
trickle its body, claim a longer Content-Length than it sends, send no Content-Length,
or gzip its body whatever the client asked; every request is recorded so tests can count
GETs and read their headers. It also serves a git repository over smart HTTP (`add_git`),
as gitee and GitHub do, or redirects every git request elsewhere (`redirect_git`).
"""

from __future__ import annotations

import gzip
import os
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

GIT_PREFIX = "/git/"


@dataclass
class Route:
    body: bytes
    content_type: str = "application/octet-stream"
    etag: str | None = '"v1"'
    ignore_range: bool = False
    drop_after: int | None = None       # the first GET sends this many body bytes, then closes
    stall_after: int | None = None      # every GET stops after this offset and waits for shutdown
    hang: bool = False                  # read the request, never answer
    before: list = field(default_factory=list)  # (status, headers) answered first, in order
    chunk: int = 64 * 1024
    chunk_delay: float = 0.0
    dropped: bool = False
    drop_every: int | None = None       # every GET sends at most this many body bytes, then closes
    claim_extra: int = 0                # Content-Length says this many bytes more than are sent
    no_length: bool = False             # no Content-Length: the body ends when the connection closes
    gzip: bool = False                  # Content-Encoding: gzip, whatever Accept-Encoding said


class HubServer:
    """Start with `start()`, stop with `stop()`; `add(path, body, **route options)` returns the URL."""

    def __init__(self):
        self.routes: dict[str, Route] = {}
        self.git_root: Path | None = None
        self.git_redirect: str | None = None
        self.requests: list[tuple[str, str, dict]] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.sent = threading.Event()  # set when a stalled/dropped response has sent its partial body
        handler = type("Handler", (_Handler,), {"hub": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def add(self, path: str, body: bytes, **options) -> str:
        self.routes[path] = Route(body, **options)
        return self.url(path)

    def add_git(self, repository: Path) -> str:
        """Serve the git repository `repository` (a working tree or a bare one); return its URL.

        The smart HTTP protocol, through ``git http-backend``: shallow and partial fetches need it
        (git's "dumb" HTTP transport cannot fetch with ``--depth``).
        """
        self.git_root = repository.parent
        return self.url(GIT_PREFIX + repository.name)

    def redirect_git(self, base: str) -> str:
        """Answer every git request with a 302 to the same path under `base`; return this server's git URL."""
        self.git_redirect = base.rstrip("/")
        return self.url(GIT_PREFIX.rstrip("/"))

    def gets(self, path: str) -> list[dict]:
        """Headers of every GET of `path`, in order."""
        with self.lock:
            return [headers for method, seen, headers in self.requests if method == "GET" and seen == path]

    def start(self) -> "HubServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hub: HubServer

    def log_message(self, *args):
        pass

    def _record(self) -> None:
        with self.hub.lock:
            self.hub.requests.append((self.command, self.path, {key: value for key, value in self.headers.items()}))

    def do_POST(self):
        self._record()
        if self.path.startswith(GIT_PREFIX) and self.hub.git_redirect is not None:
            return self._empty(302, {"Location": self.hub.git_redirect + self.path[len(GIT_PREFIX) - 1:]})
        if self.hub.git_root is not None and self.path.startswith(GIT_PREFIX):
            return self._git()
        return self._empty(405)

    def do_GET(self):
        hub = self.hub
        self._record()
        if self.path.startswith(GIT_PREFIX) and hub.git_redirect is not None:
            return self._empty(302, {"Location": hub.git_redirect + self.path[len(GIT_PREFIX) - 1:]})
        if hub.git_root is not None and self.path.startswith(GIT_PREFIX):
            return self._git()
        route = hub.routes.get(self.path)
        if route is None:
            return self._empty(404)
        if route.hang:
            hub.stopping.wait()
            self.close_connection = True
            return
        if route.before:
            status, headers = route.before.pop(0)
            return self._empty(status, headers)
        body, start, status = route.body, 0, 200
        wanted = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
        if_range = self.headers.get("If-Range")
        if wanted and not route.ignore_range and (if_range is None or if_range == route.etag):
            start, status = int(wanted.group(1)), 206
            if start >= len(body):
                return self._empty(416, {"Content-Range": f"bytes */{len(body)}"})
        payload = body[start:]
        if route.gzip:
            payload = gzip.compress(payload)
        self.send_response(status)
        self.send_header("Content-Type", route.content_type)
        if route.no_length:
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(len(payload) + route.claim_extra))
        if route.gzip:
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Accept-Ranges", "bytes")
        if route.etag:
            self.send_header("ETag", route.etag)
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.end_headers()
        limit = len(payload)
        if route.drop_after is not None and not route.dropped:
            route.dropped = True
            limit = max(0, route.drop_after - start)
        if route.stall_after is not None:
            limit = min(limit, max(0, route.stall_after - start))
        if route.drop_every is not None:
            limit = min(limit, route.drop_every)
        try:
            for offset in range(0, limit, route.chunk):
                self.wfile.write(payload[offset:min(limit, offset + route.chunk)])
                if route.chunk_delay:
                    time.sleep(route.chunk_delay)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a deadline, a full disk)
            self.close_connection = True
            return
        if limit < len(payload) or route.claim_extra:
            hub.sent.set()
            if route.stall_after is not None:
                hub.stopping.wait()
            self.close_connection = True

    def _git(self) -> None:
        """Answer through ``git http-backend``, a CGI program: environment and body in, headers and body out."""
        path, _, query = self.path[len(GIT_PREFIX) - 1:].partition("?")
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        env = dict(os.environ, GIT_PROJECT_ROOT=str(self.hub.git_root), GIT_HTTP_EXPORT_ALL="1",
                   PATH_INFO=path, QUERY_STRING=query, REQUEST_METHOD=self.command,
                   CONTENT_TYPE=self.headers.get("Content-Type", ""), CONTENT_LENGTH=str(len(body)),
                   HTTP_CONTENT_ENCODING=self.headers.get("Content-Encoding", ""),
                   HTTP_GIT_PROTOCOL=self.headers.get("Git-Protocol", ""))
        output = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True,
                                check=True).stdout
        head, _, payload = output.partition(b"\r\n\r\n")
        headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n") if line)
        self.send_response(int(headers.pop("Status", "200").split()[0]))
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _empty(self, status: int, headers: dict | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", "0")
        self.end_headers()
