"""sha256 of streams and files: the one place mindspore_hub hashes bytes.

Keeping hashing here lets the cache prove (and tests check) that a warm
load never re-hashes a checkpoint.
"""

from __future__ import annotations

import hashlib
import os

CHUNK = 1 << 20


def new():
    """A fresh sha256 object to feed while streaming."""
    return hashlib.sha256()


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
