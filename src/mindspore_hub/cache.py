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
import re
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import filelock

from . import hashes, manage, names, settings
from .download import fetch_file
from .errors import HubError, LockTimeoutError, OfflineError

MARKER = ".verified"
_SHA256_NAME = re.compile(r"[0-9a-f]{64}")
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
            elif path.exists() and verify(path, sha256):
                return path
            if settings.offline():
                raise _offline(path)
            fetch_file(url, path, sha256, label=label)
            _mark(path, sha256)
            return path
        except BaseException:
            _prune(path.parent)  # only if empty: a resumable .part stays
            raise


def verify(path: str | os.PathLike[str], sha256: str | None = None) -> bool:
    """Re-hash a cached asset; mark it verified if it matches, delete it if not.

    `sha256` defaults to the name of the asset's directory (``assets/<sha256>/``).
    """
    path = Path(path)
    if sha256 is None and not _SHA256_NAME.fullmatch(path.parent.name):
        raise HubError(f"{path} is not a checkpoint in the cache (assets/<sha256>/<file>); name the model instead")
    sha256 = names.check_sha256(sha256 or path.parent.name)
    if hashes.file_sha256(path) == sha256:
        _mark(path, sha256)
        return True
    _remove_files(path)
    return False


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
        if path.name.endswith((MARKER, PART + ".json")):
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
    marker = path.with_name(path.name + MARKER)
    temporary = marker.with_name(marker.name + f".{os.getpid()}")
    temporary.write_text(json.dumps({"sha256": sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}))
    os.replace(temporary, marker)


def _remove_files(path: Path) -> None:
    for suffix in ("", MARKER, PART, PART + ".json"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def _prune(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass
