"""Running the application under uvicorn: bind, say where, serve until SIGTERM or Ctrl-C.

On SIGTERM uvicorn stops accepting connections, lets every accepted request finish (up to the
grace period) and then runs the shutdown, which lets the batcher finish too; the process then
exits 0 (uvicorn re-raises the signal it caught; a handler of ours takes it, so the exit is clean).
"""

from __future__ import annotations

import logging
import signal
import socket
import sys
import threading

from .guard import access_log
from .protocol import create_app

log = logging.getLogger(__name__)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (port 0: a free one), so the address is known before serving starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def make_server(pipeline, name: str, settings, sock: socket.socket | None = None):
    """(uvicorn.Server, its socket) for `pipeline`; `server.run(sockets=[sock])` serves it."""
    import uvicorn

    sock = sock or bind(settings.host, settings.port)
    config = uvicorn.Config(create_app(pipeline, name, settings), access_log=False, log_level="warning",
                            timeout_graceful_shutdown=settings.grace, lifespan="on")
    return uvicorn.Server(config), sock


def serve_pipeline(pipeline, name: str, settings) -> int:
    """Serve until stopped; 0 once every accepted request has been answered."""
    _log_access_to_stderr()
    server, sock = make_server(pipeline, name, settings)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"serving {name} on http://{shown}:{port} (page at /, docs at /docs, metrics at /metrics)", flush=True)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stopped)  # what uvicorn's re-raised SIGTERM reaches
    server.run(sockets=[sock])
    print(f"stopped serving {name}", flush=True)
    return 0


def _stopped(signum, frame) -> None:
    log.info("signal %d: stopped", signum)


def _log_access_to_stderr() -> None:
    if not access_log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        access_log.addHandler(handler)
        access_log.setLevel(logging.INFO)
        access_log.propagate = False
