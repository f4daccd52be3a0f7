"""The cache: its layout, cross-process locks and verified markers.

Layout under the hub directory (`manage.get_hub_dir`)::

    assets/<sha256>/<file>            a checkpoint whose sha256 matched
    assets/<sha256>/<file>.verified   marker: the hash and the file's identity when it matched
    assets/<sha256>/<file>.part       an interrupted download (resumed next time)
    locks/<sha256>.lock               held while one process downloads that file
    metadata/<key>/...                markdown files fetched from a remote hub index
    code/<key>/<folder>               entry code fetched from a repo-link (after trust)
    index/<key>/assets                the remote index's listing
    trusted_repos.json                repositories the user trusted (trust.py)

Assets are keyed by their sha256, so a directory can only ever hold bytes of one
content, whatever uid or mirror they came from. The marker records the file's size,
mtime, ctime, inode and device: any change made through the file system changes one
of them (ctime cannot be set back), so `fetch` and ``cache ls`` notice it and re-hash.
What no marker can see is a change below the file system (a failing disk); loading
therefore re-hashes (`Rehash`, on a worker thread beside the work the caller does
meanwhile), and `verify` re-hashes on demand. Every write goes through `safefile`.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import filelock
from tqdm import tqdm

from . import hashes, manage, names, safefile, settings
from .download import fetch_file
from .errors import ChecksumError, DownloadError, HubError, LockTimeoutError, OfflineError

log = logging.getLogger(__name__)

MARKER = ".verified"
PART = ".part"
LOCK_POLL = 1.0        # seconds between looks at a lock holder's progress
PROGRESS_EVERY = 10.0  # seconds between log lines about it


def root() -> Path:
    return Path(manage.get_hub_dir())


def asset_path(sha256: str, file_name: str) -> Path:
    """Where the verified asset with this hash and name lives (whether or not it is there)."""
    sha256 = names.check_sha256(sha256)
    return root() / "assets" / sha256 / names.check_asset_name(file_name)


def is_verified(path: Path, sha256: str) -> bool:
    """True when `path` is a regular file inside the cache whose marker for `sha256` matches its identity."""
    try:
        if not safefile.check_dirs(root(), path.parent):
            return False
    except HubError:
        return False
    info = safefile.regular_stat(path)
    if info is None:
        return False
    return _marker(path) == {"sha256": sha256, **safefile.identity(info)}


@contextmanager
def locked(key: str, watch: Path | None = None):
    """Hold the cross-process lock named `key` (an asset's sha256, or another cache entry's key).

    It is an OS-level lock (flock), so the kernel releases it when its holder dies, even by
    SIGKILL; the next process then takes it and resumes the kept ``.part`` file. Where the file
    system has no flock, filelock falls back to a lock file naming its holder. While waiting, the
    holder's progress on `watch` (the file it is writing) is shown.
    """
    locks = safefile.make_dirs(root(), root() / "locks")
    path = locks / f"{names.safe_component(key, 'lock name')}.lock"
    safefile.clear(path)  # a link planted there is removed: older filelock releases truncate through one
    lock = filelock.FileLock(str(path))
    _acquire(lock, path, key, watch)
    try:
        yield
    finally:
        lock.release()


def fetch(url: str, sha256: str, file_name: str, force: bool = False, label: str | None = None,
          adopt: tuple[Path, ...] = ()) -> Path:
    """The verified local copy of an asset, downloaded at most once across processes.

    `force` downloads it again, but a verified copy is replaced only by a verified new one: if the
    download fails, the old file is still there. `adopt` names copies outside the cache (beside a
    local card, in upstream's ``~/.mscache``), the first whose sha256 matches taken instead of a
    download (`_adopt`).
    """
    path = asset_path(sha256, file_name)
    sha256 = path.parent.name
    if not force and is_verified(path, sha256):
        return path
    if settings.offline() and (force or not any(safefile.regular_stat(copy) for copy in adopt)):
        raise _offline(path, force)
    with locked(sha256, watch=path.with_name(path.name + PART)):
        safefile.make_dirs(root(), path.parent)
        try:
            if not force:
                if is_verified(path, sha256):
                    return path  # another process finished it while we waited
                if safefile.regular_stat(path) is not None and _verify(path, sha256):
                    return path
                if any(_adopt(candidate, path, sha256) for candidate in adopt):
                    return path  # adopting needs no network: offline too
            if settings.offline():
                raise _offline(path, force)
            safefile.clear(path)  # a link there is never trusted nor written through
            try:
                fetch_file(url, path, sha256, label=label, restart=force)
            except DownloadError as error:
                if force and is_verified(path, sha256):
                    raise _kept(error, path) from error
                raise
            _mark(path, sha256)
            return path
        except BaseException:
            _prune(path.parent)  # only if empty: a resumable .part stays
            raise


def _adopt(candidate: Path, path: Path, sha256: str) -> bool:
    """Take `candidate`, a file outside the cache, as the asset `path` if its sha256 is `sha256`.

    For a caller holding the asset's lock. The candidate is hard-linked under a temporary name beside
    `path` if the linked file is one only the user can change (`_private`), else copied; that file
    is hashed, and only on a match renamed into place and marked; it is never used unverified. A
    link, a missing file or a mismatch leaves the candidate alone (False) and nothing in the cache.
    """
    found = safefile.regular_stat(candidate)
    if found is None:
        return False
    if found.st_size > settings.max_size():
        log.warning("%s is larger than %s (%d bytes); not adopting it", candidate, settings.MAX_SIZE,
                    settings.max_size())
        return False
    temporary = path.with_name(f"{safefile.TEMPORARY_PREFIX}adopt-{path.name}{safefile.TEMPORARY_SUFFIX}")
    safefile.clear(temporary)
    safefile.remove(temporary)
    try:
        try:
            os.link(candidate, temporary, follow_symlinks=False)
            if not _private(os.lstat(temporary)):  # judged on the inode linked, not on an earlier look
                safefile.remove(temporary)
                raise PermissionError("someone else may write it")  # a shared inode would let them
        except OSError:  # another file system, links not allowed, or not only ours: copy, never through a link
            with safefile.open_read(candidate) as source, open(temporary, "xb") as target:
                while chunk := source.read(1 << 20):
                    if target.tell() + len(chunk) > settings.max_size():  # it grew since: a disk is not filled
                        raise OSError(f"it grew past {settings.MAX_SIZE} while being copied")
                    target.write(chunk)
        with safefile.open_read(temporary) as handle:
            identity = safefile.identity(os.fstat(handle.fileno()))
            matched = hashes.file_sha256(handle) == sha256
        if not matched:
            log.warning("%s is not the checkpoint with sha256 %s; not adopting it (it is left as it is)",
                        candidate, sha256)
            return False
        os.replace(temporary, path)
        _mark(path, sha256, identity)
        log.info("adopted %s (sha256 verified) as %s", candidate, path)
        return True
    except (OSError, HubError) as error:
        log.info("could not adopt %s: %s", candidate, error)
        return False
    finally:
        safefile.remove(temporary)  # a mismatch's copy or link is not kept


def _private(info: os.stat_result) -> bool:
    """Whether only the user can change a file: theirs, not writable by group or others.

    Only such a file is hard-linked into the cache; any other is copied, so that once its copy is
    hashed, no one else can change the bytes the cache holds.
    """
    return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def verify(path: str | os.PathLike[str]) -> bool:
    """Re-hash a cached asset under its lock; mark it verified if it matches, delete it if not.

    `path` must be a checkpoint inside the cache, ``<hub dir>/assets/<sha256>/<file>`` once
    symbolic links and ``..`` are resolved; anything else is refused untouched.
    """
    resolved = Path(path).resolve()
    folder = resolved.parent
    if (folder.parent != (root() / "assets").resolve() or not names.is_sha256(folder.name)
            or resolved.name.endswith(names.CACHE_SUFFIXES)):
        raise HubError(f"{path} is not a checkpoint in the cache ({root() / 'assets'}/<sha256>/<file>); "
                       "name the model instead")
    with locked(folder.name):
        return _verify(resolved, folder.name)


class Rehash:
    """Re-hash a cached, marked asset on a worker thread while the caller goes on.

    `start` returns None when there is no verified copy to re-hash (then `fetch` downloads it).
    The caller builds its network or parses the file meanwhile, then asks `ok()`: True when the
    bytes had the promised hash and the file was not changed since they were read (its identity
    is compared again at that moment, so bytes loaded before `ok()` are the bytes hashed). A
    corrupt copy is deleted, and `fetch` then downloads it again.
    """

    def __init__(self, path: Path, sha256: str, identity: dict):
        self.path, self.sha256, self.identity = path, sha256, identity
        self._matched: bool | None = None
        self._steady = False  # the file kept its identity while it was hashed
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="mshub-rehash", daemon=True)
        self._thread.start()

    @classmethod
    def start(cls, sha256: str, file_name: str) -> "Rehash | None":
        path = asset_path(sha256, file_name)
        sha256 = path.parent.name
        info = safefile.regular_stat(path)
        if info is None or not is_verified(path, sha256):
            return None
        return cls(path, sha256, safefile.identity(info))

    def _run(self) -> None:
        try:
            with safefile.open_read(self.path) as handle:
                self._matched = hashes.file_sha256(handle) == self.sha256
                self._steady = safefile.identity(os.fstat(handle.fileno())) == self.identity
        except BaseException as error:  # re-raised by ok()
            self._error = error

    def ok(self) -> bool:
        self._thread.join()
        if isinstance(self._error, OSError):
            return False  # gone or replaced meanwhile: fetch finds out what is there now
        if self._error is not None:
            raise self._error
        info = safefile.regular_stat(self.path)
        if self._matched and self._steady and info is not None and safefile.identity(info) == self.identity:
            return True
        if self._matched is False:
            log.warning("%s does not have its sha256 any more (corrupted on disk?); fetching it again", self.path)
            with locked(self.sha256):
                _verify(self.path, self.sha256)  # checked again under the lock: deleted if still corrupt
        return False


def _verify(path: Path, sha256: str) -> bool:
    """`verify` for a caller that holds the lock of `sha256`. A kept ``.part`` is left alone."""
    try:
        with safefile.open_read(path) as handle:
            before = safefile.identity(os.fstat(handle.fileno()))
            matched = hashes.file_sha256(handle) == sha256
    except (FileNotFoundError, HubError):
        return False
    if matched:
        _mark(path, sha256, before)
        return True
    _remove_files(path, ("", MARKER))
    return False


def write_atomically(path: Path, text: str) -> None:
    """Write `text` (UTF-8) to `path` inside the cache, atomically and never through a link."""
    safefile.write_atomic(root(), path, text)


@dataclass(frozen=True)
class Entry:
    """One cached asset: `state` is 'verified', 'changed' (since it was verified: re-hashed at next
    use), 'unverified', 'partial', or 'link' (a symbolic link: never trusted, replaced at next use)."""

    sha256: str
    path: Path
    size: int
    state: str


def entries() -> list[Entry]:
    """Every asset file in the cache, sorted by path; a link or dangling link is listed, not followed."""
    found = []
    for folder in _asset_folders():
        if os.path.islink(folder):
            found.append(Entry(folder.name, folder, 0, "link"))
            continue
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            name = path.name
            if name.endswith((MARKER, PART + ".json", safefile.TEMPORARY_SUFFIX)):
                continue
            info = os.lstat(path)
            if os.path.islink(path):
                state = "link"
            elif name.endswith(PART):
                state = "partial"
            elif is_verified(path, folder.name):
                state = "verified"
            else:
                state = "changed" if _marker(path) else "unverified"
            found.append(Entry(folder.name, path, info.st_size, state))
    return found


def cached_keys() -> list[str]:
    """The sha256 of every asset folder in the cache, whatever it holds (for ``cache rm --all``)."""
    return [folder.name for folder in _asset_folders()]


def remove(sha256: str) -> bool:
    """Delete one asset folder (asset, part, marker) under its lock; False if it was not cached.

    A folder that is a symbolic link loses the link only, never its target's files. Failing to
    delete raises OSError naming the file.
    """
    folder = _asset_folder(sha256)
    if not os.path.lexists(folder):
        return False
    with locked(folder.name):
        safefile.remove_tree(folder)
    if os.path.lexists(folder):
        raise OSError(f"could not remove {folder}")
    return True


def is_link(sha256: str) -> bool:
    """True when the cache's folder for `sha256` is a symbolic link (`remove` then removes just the link)."""
    return os.path.islink(_asset_folder(sha256))


def _asset_folder(sha256: str) -> Path:
    return root() / "assets" / names.check_sha256(sha256)


def _asset_folders() -> list[Path]:
    assets = root() / "assets"
    try:
        safefile.check_dirs(root(), assets)
        return sorted(path for path in assets.iterdir() if names.is_sha256(path.name))
    except (FileNotFoundError, HubError):
        return []


def _acquire(lock: filelock.BaseFileLock, path: Path, key: str, watch: Path | None) -> None:
    """Take `lock`, reporting the holder's progress while waiting; LockTimeoutError past MSHUB_LOCK_TIMEOUT."""
    limit = settings.lock_timeout()
    try:
        lock.acquire(timeout=0)
        return
    except filelock.Timeout:
        pass
    log.warning("another process holds %s (lock %s); waiting up to %.0f s", key[:16], path, limit)
    progress = _HolderProgress(watch)
    deadline = time.monotonic() + limit
    detail = ""
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LockTimeoutError(_lock_timeout_message(path, key, limit, progress, detail))
            try:
                lock.acquire(timeout=min(LOCK_POLL, remaining))
                return
            except filelock.Timeout as error:
                detail = str(error)
                progress.update()
    finally:
        progress.close()


class _HolderProgress:
    """What the lock holder has written to `watch` so far: a bar on a terminal, a log line now and then."""

    def __init__(self, watch: Path | None):
        self.watch, self.size, self.changed = watch, self._size(watch), time.monotonic()
        self.logged = time.monotonic()
        self.bar = tqdm(total=None, unit="B", unit_scale=True, unit_divisor=1024, leave=False,
                        desc="another process is downloading",
                        disable=watch is None or settings.progress_disabled() or not sys.stderr.isatty())

    @staticmethod
    def _size(watch: Path | None) -> int:
        info = safefile.regular_stat(watch) if watch is not None else None
        return info.st_size if info is not None else 0

    def update(self) -> None:
        size = self._size(self.watch)
        if size != self.size:
            self.bar.update(size - self.size)
            self.size, self.changed = size, time.monotonic()
        if self.watch is not None and time.monotonic() - self.logged >= PROGRESS_EVERY:
            self.logged = time.monotonic()
            log.info("the process holding the lock has written %d bytes of %s", self.size, self.watch.name)

    def describe(self) -> str:
        if self.watch is None:
            return ""
        return (f" It has written {self.size} bytes of {self.watch}, the last "
                f"{time.monotonic() - self.changed:.0f} s ago.")

    def close(self) -> None:
        self.bar.close()


def _lock_timeout_message(path: Path, key: str, limit: float, progress: _HolderProgress, detail: str) -> str:
    holder = _lock_holder(path)
    message = (f"another process has held {key[:16]}... for over {limit:.0f} s (lock {path}).{progress.describe()}"
               f" Wait for it, or raise {settings.LOCK_TIMEOUT}.")
    if holder:
        message += (f" The lock file names {holder} as its holder (a lock file, not an OS lock: this file "
                    f"system has no flock); if that process is gone, delete {path} and try again.")
    elif detail:
        message += f" ({detail})"
    return message


def _lock_holder(path: Path) -> str | None:
    """'process P on host H' from a soft lock file (filelock's fallback writes its pid and host)."""
    try:
        with safefile.open_read(path) as handle:
            lines = handle.read(1024).decode("utf-8", "replace").splitlines()
    except (OSError, HubError):
        return None
    fields = dict(line.split("=", 1) for line in lines if "=" in line)
    pid, host = fields.get("pid"), fields.get("host")
    if pid is None and len(lines) >= 2 and lines[0].strip().isdigit():
        pid, host = lines[0].strip(), lines[1].strip()
    if not pid or not host:
        return None
    return f"process {names.printable(pid)} on host {names.printable(host)}"


def _kept(error: DownloadError, path: Path) -> DownloadError:
    """`error` of a forced download, saying that the verified copy already cached is still there."""
    kept = f"the verified copy already in the cache at {path} was kept"
    if isinstance(error, ChecksumError):
        return ChecksumError(error.url, error.expected, error.actual, error.size, kept)
    return DownloadError(f"{error}\n{kept[0].upper() + kept[1:]}.")


def _offline(path: Path, force: bool) -> OfflineError:
    if force and is_verified(path, path.parent.name):
        return OfflineError(
            f"offline ({settings.OFFLINE}=1): force_reload (--force-reload) needs the network to fetch "
            f"{path.name} again; the verified copy in the cache at {path} is kept. Leave out force_reload "
            f"to use it, or unset {settings.OFFLINE}")
    return OfflineError(
        f"offline ({settings.OFFLINE}=1) and {path.name} (sha256 {path.parent.name}) is not in the cache "
        f"at {path}; run `mshub download` for it while online, or unset {settings.OFFLINE}")


def _marker(path: Path) -> dict | None:
    try:
        with safefile.open_read(path.with_name(path.name + MARKER)) as handle:
            saved = json.loads(handle.read(4096))
    except (OSError, ValueError, HubError):
        return None
    return saved if isinstance(saved, dict) else None


def _mark(path: Path, sha256: str, identity: dict | None = None) -> None:
    """Write the marker: `identity` is the file's as it was hashed (by default, as it is now)."""
    if identity is None:
        info = safefile.regular_stat(path)
        if info is None:
            return
        identity = safefile.identity(info)
    safefile.write_atomic(root(), path.with_name(path.name + MARKER), json.dumps({"sha256": sha256, **identity}))


def _remove_files(path: Path, suffixes: tuple[str, ...] = ("", MARKER, PART, PART + ".json")) -> None:
    """Delete `path` and its companions (by default all of them: marker, part and its sidecar)."""
    for suffix in suffixes:
        safefile.remove(path.with_name(path.name + suffix))


def _prune(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass
