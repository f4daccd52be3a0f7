"""sha256 of streams and files: the one place mindspore_hub hashes bytes.

Keeping hashing here lets the cache prove (and tests check) that a warm
load never re-hashes a checkpoint.
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading

CHUNK = 1 << 20


def new():
    """A fresh sha256 object."""
    return hashlib.sha256()


class StreamHasher:
    """sha256 of a stream, computed on a worker thread as the chunks arrive.

    hashlib releases the GIL while it hashes a large chunk, so the hash runs beside the
    receiving and writing thread instead of adding its time to it. `hexdigest` waits for
    the chunks given so far; call `close` when the stream is abandoned.
    """

    def __init__(self):
        self._sha = hashlib.sha256()
        self._chunks: queue.Queue = queue.Queue(maxsize=32)
        self._worker: threading.Thread | None = None

    def update(self, data: bytes) -> None:
        if self._worker is None:
            self._worker = threading.Thread(target=self._run, name="mshub-sha256", daemon=True)
            self._worker.start()
        self._chunks.put(data)

    def hexdigest(self) -> str:
        self.close()
        return self._sha.hexdigest()

    def close(self) -> None:
        if self._worker is not None:
            self._chunks.put(None)
            self._worker.join()
            self._worker = None

    def _run(self) -> None:
        for data in iter(self._chunks.get, None):
            self._sha.update(data)


def update_from_file(hasher, path: str | os.PathLike[str], limit: int | None = None) -> int:
    """Feed the first `limit` bytes of `path` (all if None) to `hasher`; return the count fed."""
    fed = 0
    with open(path, "rb") as handle:
        while limit is None or fed < limit:
            want = CHUNK if limit is None else min(CHUNK, limit - fed)
            block = handle.read(want)
            if not block:
                break
            hasher.update(block)
            fed += len(block)
    return fed


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a whole file.

    >>> import tempfile; f = tempfile.NamedTemporaryFile(delete=False); f.write(b"abc"); f.close()
    3
    >>> file_sha256(f.name)[:8]
    'ba7816bf'
    """
    hasher = new()
    update_from_file(hasher, path)
    return hasher.hexdigest()
