"""sha256 of streams and files: the one place mindspore_hub hashes bytes.

Keeping hashing here lets the cache prove (and tests check) that a warm
load never re-hashes a checkpoint.
"""

from __future__ import annotations

import collections
import hashlib
import os
import threading

CHUNK = 1 << 20
WINDOW = 16 << 20  # bytes a StreamHasher lets wait for its worker


def new():
    """A fresh sha256 object."""
    return hashlib.sha256()


class StreamHasher:
    """sha256 of a stream, fed chunk by chunk as the chunks arrive.

    With more than one usable CPU the hash runs on a worker thread: hashlib releases the
    GIL while it hashes a chunk larger than 2 KiB, so it proceeds beside the thread that
    receives and writes. At most `window` bytes wait for the worker (`update` blocks beyond
    that), so memory stays bounded whatever the chunk sizes. With one CPU it hashes in the
    caller's thread, where a worker would only add handoffs. `hexdigest` waits for the
    chunks given so far; call `close` when the stream is abandoned. An error raised while
    hashing is raised again by the next `update` or by `hexdigest`.
    """

    def __init__(self, threaded: bool | None = None, window: int = WINDOW):
        self._sha = hashlib.sha256()
        self._threaded = _usable_cpus() > 1 if threaded is None else threaded
        self._window = window
        self._chunks: collections.deque = collections.deque()
        self._pending = 0  # bytes handed over and not hashed yet
        self._ready = threading.Condition(threading.Lock())
        self._worker: threading.Thread | None = None
        self._error: BaseException | None = None

    def update(self, data) -> None:
        if self._error is not None:
            raise self._error
        if not self._threaded:
            self._sha.update(data)
            return
        if self._worker is None:
            self._worker = threading.Thread(target=self._run, name="mshub-sha256", daemon=True)
            self._worker.start()
        size = len(data)
        with self._ready:
            while self._pending and self._pending + size > self._window:
                self._ready.wait()
            self._chunks.append(data)
            self._pending += size
            self._ready.notify_all()

    def hexdigest(self) -> str:
        self.close()
        if self._error is not None:
            raise self._error
        return self._sha.hexdigest()

    def close(self) -> None:
        if self._worker is not None:
            with self._ready:
                self._chunks.append(None)
                self._ready.notify_all()
            self._worker.join()
            self._worker = None

    def _run(self) -> None:
        ready, chunks, sha = self._ready, self._chunks, self._sha
        while True:
            with ready:
                while not chunks:
                    ready.wait()
                data = chunks.popleft()
            if data is None:
                return
            if self._error is None:
                try:
                    sha.update(data)
                except BaseException as error:  # re-raised in the caller's thread
                    self._error = error
            with ready:
                self._pending -= len(data)
                ready.notify_all()


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def update_from_file(hasher, source, limit: int | None = None) -> int:
    """Feed the first `limit` bytes (all if None) of `source`, a path or a binary file opened by the
    caller (read from where it is), to `hasher`; return the count fed."""
    fed = 0
    opened = isinstance(source, (str, os.PathLike))
    handle = open(source, "rb", buffering=0) if opened else source
    # One buffer filled again and again: no new bytes object (and page faults) for every chunk.
    # A threaded hasher keeps the chunks it is given, so it gets a copy of each.
    buffer = memoryview(bytearray(CHUNK))
    keep = isinstance(hasher, StreamHasher) and hasher._threaded
    try:
        while limit is None or fed < limit:
            want = CHUNK if limit is None else min(CHUNK, limit - fed)
            count = handle.readinto(buffer[:want])
            if not count:
                break
            hasher.update(bytes(buffer[:count]) if keep else buffer[:count])
            fed += count
    finally:
        if opened:
            handle.close()
    return fed


def file_sha256(source) -> str:
    """Hex sha256 of a whole file (a path, or a binary file opened by the caller).

    >>> import tempfile; f = tempfile.NamedTemporaryFile(delete=False); f.write(b"abc"); f.close()
    3
    >>> file_sha256(f.name)[:8]
    'ba7816bf'
    """
    hasher = new()
    update_from_file(hasher, source)
    return hasher.hexdigest()
