"""The cache: its layout, cross-process locks and verified markers.

Layout under the hub directory (`manage.get_hub_dir`)::

    assets/<sha256>/<file>            a checkpoint whose sha256 matched
    assets/<sha256>/<file>.verified   marker: hash, size and mtime seen when it matched
    assets/<sha256>/<file>.part       an interrupted download (resumed next time)
    locks/<sha256>.lock               held while one process downloads that file
    metadata/<key>/...                markdown files fetched from a remote hub index
    code/<key>/<folder>               entry code fetched from a repo-link (after trust)
    trusted_repos.txt                 repositories the user trusted (code.py)

Assets are keyed by their sha256, so a directory can only ever hold bytes of one
content, whatever uid or mirror they came from. A warm load finds the marker, checks
it against the file's size and mtime, and so neither re-hashes nor opens a socket;
`verify` re-hashes on demand.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import filelock

from . import hashes, manage, names, settings
from .download import fetch_file
from .errors import HubError, LockTimeoutError, OfflineError

MARKER = ".verified"
PART = ".part"


def root() -> Path:
    return Path(manage.get_hub_dir())


def asset_path(sha256: str, file_name: str) -> Path:
    """Where the verified asset with this hash and name lives (whether or not it is there)."""
    sha256 = names.check_sha256(sha256)
    return root() / "assets" / sha256 / names.safe_component(file_name, "asset file name")


def is_verified(path: Path, sha256: str) -> bool:
    """True when `path` carries a marker for `sha256` matching its current size and mtime."""
    marker = path.with_name(path.name + MARKER)
    try:
        stat = path.stat()
        saved = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    return saved == {"sha256": sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


@contextmanager
def locked(key: str):
    """Hold the cross-process lock named `key` (an asset's sha256, or another cache entry's key).

    It is an OS-level lock (flock), so the kernel releases it when its holder dies, even by
    SIGKILL; the next process then takes it and resumes the kept ``.part`` file.
    """
    locks = root() / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    path = locks / f"{names.safe_component(key, 'lock name')}.lock"
    lock = filelock.FileLock(path, timeout=settings.lock_timeout())
    try:
        lock.acquire()
    except filelock.Timeout:
        raise LockTimeoutError(
            f"another process has been downloading {key[:16]}... for over {settings.lock_timeout():.0f} s "
            f"(lock {path}); wait for it, or raise {settings.LOCK_TIMEOUT}") from None
    try:
        yield
    finally:
        lock.release()


def fetch(url: str, sha256: str, file_name: str, force: bool = False, label: str | None = None) -> Path:
    """The verified local copy of an asset, downloaded at most once across processes."""
    path = asset_path(sha256, file_name)
    sha256 = path.parent.name
    if not force and is_verified(path, sha256):
        return path
    if settings.offline() and (force or not path.exists()):
        raise _offline(path)
    with locked(sha256):
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            if force:
                _remove_files(path)
            elif is_verified(path, sha256):
                return path  # another process finished it while we waited
            elif path.exists() and _verify(path, sha256):
                return path
            if settings.offline():
                raise _offline(path)
            fetch_file(url, path, sha256, label=label)
            _mark(path, sha256)
            return path
        except BaseException:
            _prune(path.parent)  # only if empty: a resumable .part stays
            raise


def verify(path: str | os.PathLike[str]) -> bool:
    """Re-hash a cached asset under its lock; mark it verified if it matches, delete it if not.

    `path` must be a checkpoint inside the cache, ``<hub dir>/assets/<sha256>/<file>`` once
    symbolic links and ``..`` are resolved; anything else is refused untouched.
    """
    resolved = Path(path).resolve()
    folder = resolved.parent
    if (folder.parent != (root() / "assets").resolve() or not names.is_sha256(folder.name)
            or resolved.name.endswith((MARKER, PART, PART + ".json"))):
        raise HubError(f"{path} is not a checkpoint in the cache ({root() / 'assets'}/<sha256>/<file>); "
                       "name the model instead")
    with locked(folder.name):
        return _verify(resolved, folder.name)


def _verify(path: Path, sha256: str) -> bool:
    """`verify` for a caller that holds the lock of `sha256`. A kept ``.part`` is left alone."""
    if hashes.file_sha256(path) == sha256:
        _mark(path, sha256)
        return True
    _remove_files(path, ("", MARKER))
    return False


def write_atomically(path: Path, text: str) -> None:
    """Write `text` (UTF-8) to `path` so that readers see the old file or the whole new one."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class Entry:
    """One cached asset: `state` is 'verified', 'unverified' or 'partial'."""

    sha256: str
    path: Path
    size: int
    state: str


def entries() -> list[Entry]:
    """Every asset file in the cache, sorted by path."""
    found = []
    for path in sorted((root() / "assets").glob("*/*")):
        if path.name.endswith((MARKER, PART + ".json", ".tmp")):
            continue
        sha256 = path.parent.name
        if path.name.endswith(PART):
            state = "partial"
        else:
            state = "verified" if is_verified(path, sha256) else "unverified"
        found.append(Entry(sha256, path, path.stat().st_size, state))
    return found


def remove(sha256: str) -> bool:
    """Delete one asset (and its part and marker) under its lock; False if it was not cached."""
    sha256 = names.check_sha256(sha256)
    folder = root() / "assets" / sha256
    if not folder.exists():
        return False
    with locked(sha256):
        shutil.rmtree(folder, ignore_errors=True)
    return True


def _offline(path: Path) -> OfflineError:
    return OfflineError(
        f"offline ({settings.OFFLINE}=1) and {path.name} (sha256 {path.parent.name}) is not in the cache "
        f"at {path}; run `mshub download` for it while online, or unset {settings.OFFLINE}")


def _mark(path: Path, sha256: str) -> None:
    stat = path.stat()
    write_atomically(path.with_name(path.name + MARKER),
                     json.dumps({"sha256": sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}))


def _remove_files(path: Path, suffixes: tuple[str, ...] = ("", MARKER, PART, PART + ".json")) -> None:
    """Delete `path` and its companions (by default all of them: marker, part and its sidecar)."""
    for suffix in suffixes:
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def _prune(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass
