"""Files inside the cache: written without following symbolic links, and never half-written.

Everything mindspore_hub writes under its hub directory goes through here: verified markers,
``.part`` files and their sidecars, lock files, cached metadata, the trusted-repositories record
and the ``.mshub_source.json`` of fetched code. Two rules keep every write inside the cache:

* a folder below the hub directory that is a symbolic link (or not a folder) is refused with
  `UnsafePathError`: writing into it would write wherever it points;
* where the cache keeps a file of its own, a symbolic link (or a FIFO, a device...) is removed,
  never followed; files are opened with ``O_NOFOLLOW`` and must turn out to be regular files.

The hub directory itself may be a link: where the cache lives is the user's choice.

>>> import tempfile; root = Path(tempfile.mkdtemp())
>>> write_atomic(root, root / "a" / "b.json", "{}")
>>> (root / "a" / "b.json").read_text()
'{}'
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import stat
import tempfile
from pathlib import Path

from .errors import UnsafePathError

log = logging.getLogger(__name__)

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # opening a FIFO planted in the cache must not block
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
TEMPORARY_PREFIX = ".mshub-"
TEMPORARY_SUFFIX = ".tmp"


def make_dirs(root: str | os.PathLike[str], folder: str | os.PathLike[str]) -> Path:
    """Create `folder` and its parents below `root`; UnsafePathError if one of them is a link or a file."""
    root, folder = Path(root), Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    current = root
    for part in _below(root, folder):
        current = current / part
        try:
            os.mkdir(current)
        except FileExistsError:
            _require_folder(root, current)
    return folder


def check_dirs(root: str | os.PathLike[str], folder: str | os.PathLike[str]) -> bool:
    """True when every folder from `root` down to `folder` exists as a real folder (no link);
    False when one is missing; UnsafePathError when one is a link or a file."""
    root, folder = Path(root), Path(folder)
    current = root
    for part in _below(root, folder):
        current = current / part
        try:
            _require_folder(root, current)
        except FileNotFoundError:
            return False
    return True


def regular_stat(path: str | os.PathLike[str]) -> os.stat_result | None:
    """The lstat of `path` if it is a regular file (not a link to one); None otherwise."""
    try:
        info = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return info if stat.S_ISREG(info.st_mode) else None


def identity(info: os.stat_result) -> dict[str, int]:
    """What changes whenever a file's bytes change through the file system (ctime cannot be set back)."""
    return {"size": info.st_size, "mtime_ns": info.st_mtime_ns, "ctime_ns": info.st_ctime_ns,
            "inode": info.st_ino, "device": info.st_dev}


def clear(path: str | os.PathLike[str]) -> None:
    """Remove a link or other non-regular file at `path` where the cache keeps a file of its own."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISREG(info.st_mode):
        return
    if stat.S_ISDIR(info.st_mode):
        raise UnsafePathError(f"{path} is a folder where the cache keeps a file; remove it")
    target = f" (pointing to {os.readlink(path)})" if stat.S_ISLNK(info.st_mode) else ""
    log.warning("removed %s%s: the cache keeps its own file there and never writes through a link",
                path, target)
    os.unlink(path)


def open_append(path: str | os.PathLike[str]) -> int:
    """A descriptor appending to the regular file `path` (created if absent), never through a link."""
    clear(path)
    return _open_regular(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)


def open_read(path: str | os.PathLike[str]) -> io.FileIO:
    """The regular file `path` opened for reading without following a link.

    FileNotFoundError if it is absent; UnsafePathError if it is a link or not a regular file.
    """
    return io.FileIO(_open_regular(path, os.O_RDONLY), "rb", closefd=True)


def truncate(path: str | os.PathLike[str]) -> None:
    """Empty the regular file `path` (creating it), never through a link."""
    descriptor = open_append(path)
    try:
        os.ftruncate(descriptor, 0)
    finally:
        os.close(descriptor)


def write_all(descriptor: int, data) -> None:
    """Write every byte of `data` to `descriptor` (os.write may write less than asked)."""
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view):]


def write_atomic(root: str | os.PathLike[str], path: str | os.PathLike[str], data: bytes | str) -> None:
    """Replace `path` (below `root`) with `data` in one rename: readers see the old file or the whole new one.

    A link at `path` is replaced, not followed; the folders on the way are made with `make_dirs`.
    """
    path = Path(path)
    make_dirs(root, path.parent)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=TEMPORARY_PREFIX, suffix=TEMPORARY_SUFFIX)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data.encode("utf-8") if isinstance(data, str) else data)
            out.flush()
            os.fsync(out.fileno())
        clear(path)  # a folder there is refused; os.replace replaces a link itself
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def remove(path: str | os.PathLike[str]) -> None:
    """Delete the file or link `path` (a link's target is never touched); nothing if it is absent."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def remove_tree(path: str | os.PathLike[str]) -> None:
    """Delete a folder and everything in it, or just the link if `path` is one."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(info.st_mode):
        shutil.rmtree(path)  # never follows the links inside it
    else:
        os.unlink(path)


def _below(root: Path, folder: Path) -> tuple[str, ...]:
    try:
        parts = folder.relative_to(root).parts
    except ValueError:
        raise UnsafePathError(f"{folder} is not inside the cache {root}") from None
    if any(part in ("..", ".") for part in parts):
        raise UnsafePathError(f"{folder} has a '.' or '..' component; refusing it")
    return parts


def _require_folder(root: Path, path: Path) -> None:
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        raise UnsafePathError(
            f"{path} is a symbolic link (to {os.readlink(path)}): mindspore_hub writes only inside its cache "
            f"{root} and never through a link. To keep the cache on another disk, point MSHUB_DIR (or --hub-dir) "
            "at a folder there; otherwise remove the link")
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafePathError(f"{path} is a file where the cache keeps a folder; remove it")


def _open_regular(path: str | os.PathLike[str], flags: int) -> int:
    try:
        descriptor = os.open(path, flags | _NOFOLLOW | _NONBLOCK | _CLOEXEC, 0o644)
    except OSError as error:
        if os.path.islink(path):
            raise UnsafePathError(f"{path} is a symbolic link; the cache never reads or writes through one") \
                from error
        raise
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        raise UnsafePathError(f"{path} is not a regular file; the cache reads and writes only regular files")
    return descriptor
