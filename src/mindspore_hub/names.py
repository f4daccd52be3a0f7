"""What the strings users and metadata give us mean, and which of them are safe.

A model is named by a uid (``publisher/backend/version/model``, the r1.x-era
layout, or ``publisher/version/model``), a URL to its markdown, or a local
markdown path asked for explicitly (see `is_explicit_path`). Names that become
files or folders are checked here before anything is written, and `printable`
escapes what is shown on a terminal.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from .errors import HubError, UnsafeNameError

SOURCES = (None, "gitee", "github", "local")

_SHA256 = re.compile(r"[0-9a-f]{64}")
_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")
_MODEL_PART = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._+ -]*[A-Za-z0-9._+-])?")  # upstream's hub has a name with a space
_VERSION_PART = re.compile(r"[vVrR]?\d+(?:\.\d+)*")
# Upstream's web pages name a model by its uid: https://hub.mindspore.com/<uid>.
UID_HOSTS = ("hub.mindspore.com", "hub.mindspore.cn")
_BLOB = re.compile(r"^https://(gitee\.com|github\.com)/([^/]+)/([^/]+)/blob/(.+)$")


@dataclass(frozen=True)
class Name:
    """A parsed model name: exactly one of `uid`, `url`, `path` is set."""

    text: str
    uid: str | None = None
    url: str | None = None
    path: Path | None = None

    @property
    def parts(self) -> tuple[str, ...]:
        return tuple(self.uid.split("/")) if self.uid else ()

    @property
    def branch(self) -> str:
        """The hub repository branch holding this uid: ``r1.3`` for 4-part uids, else ``master``."""
        parts = self.parts
        if len(parts) == 4:
            return "r" + parts[2].lstrip("vr")
        return "master"


def parse(name: str | os.PathLike[str], source: str | None = None) -> Name:
    """Classify `name`; `source='local'` insists on a local markdown path (upstream's meaning).

    >>> parse("mindspore/ascend/1.3/ssdresnet50_v1.3_coco2017").branch
    'r1.3'
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES[1:]} or None, not {source!r}")
    if isinstance(name, os.PathLike):
        name = os.fspath(name)
    if not isinstance(name, str) or not name.strip():
        raise TypeError("a model name must be a non-empty string: a uid, a URL to a .md, or a .md path")
    text = name.strip()
    if source != "local" and re.match(r"^https?://", text, re.IGNORECASE):
        return _parse_url(text)
    if source == "local" or is_explicit_path(text):
        path = Path(text).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"no markdown file at {path}")
        return Name(text, path=path.resolve())
    return Name(text, uid=_check_uid(text.strip("/"), text))


def _check_uid(uid: str, text: str) -> str:
    """`uid` if it is publisher/[backend/]version/model with a version-like version; else ValueError."""
    parts = uid.split("/")
    shape_ok = (len(parts) in (3, 4) and all(_PART.fullmatch(part) for part in parts[:-1])
                and _MODEL_PART.fullmatch(parts[-1]) is not None)
    if not shape_ok or not _VERSION_PART.fullmatch(parts[-2]):
        raise ValueError(
            f"{text!r} is not a model name: expected publisher/backend/version/model "
            "(e.g. mindspore/ascend/1.3/ssdresnet50_v1.3_coco2017) or publisher/version/model, with a "
            "version like 1.3, a URL to a .md file, or a path to one")
    return uid


def _parse_url(text: str) -> Name:
    """A URL to a hub markdown file, or upstream's ``https://hub.mindspore.com/<uid>``; else ValueError.

    Decided from the text alone, before any network access (upstream raises ValueError at once too).
    """
    parsed = urlparse(text)
    path = unquote(parsed.path)
    if path.lower().endswith(".md"):
        return Name(text, url=raw_url(text))
    if (parsed.hostname or "").lower() in UID_HOSTS:
        return Name(text, uid=_check_uid(path.strip("/"), text))
    raise ValueError(f"{text!r} is not a model name: a URL must lead to a hub markdown file (.md), such as "
                     "https://gitee.com/mindspore/hub/blob/master/mshub_res/assets/mindspore/1.6/lenet_mnist.md, "
                     f"or be https://{UID_HOSTS[0]}/<uid>")


def check_flags(**flags) -> None:
    """TypeError naming the first argument that is not a bool (upstream refuses ``pretrained="True"``)."""
    for name, value in flags.items():
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be True or False, not {value!r} ({type(value).__name__})")


def english_twin(text: str) -> str | None:
    """``x.md`` for a Chinese card ``x_cn.md`` (a path or URL), else None: upstream reads the English one.

    >>> english_twin("assets/mindspore/1.9/lenet_cn.md")
    'assets/mindspore/1.9/lenet.md'
    """
    match = re.fullmatch(r"(.*)_cn\.md", text, re.IGNORECASE | re.DOTALL)
    return f"{match.group(1)}.md" if match else None


def is_explicit_path(text: str) -> bool:
    """True when `text` asks for a local file: it ends with ``.md``, starts ``./``, ``../`` or ``~``, or
    is an absolute path to a file (``/publisher/version/model/``, with no such file, is still a uid).

    A relative name never becomes a path because a file of that name happens to exist: a uid stays a
    hub name even run from a folder that holds a file at ``publisher/backend/version/model`` (and
    code beside it).
    """
    return (text.endswith(".md") or text.startswith(("./", "../", "~", ".\\", "..\\"))
            or (os.path.isabs(text) and os.path.isfile(text)))


def raw_url(url: str) -> str:
    """A gitee/github 'blob' page URL turned into the URL of the raw file; others unchanged."""
    match = _BLOB.match(url)
    if not match:
        return url
    host, owner, repo, rest = match.groups()
    if host == "gitee.com":
        return f"https://gitee.com/{owner}/{repo}/raw/{rest}"
    return f"https://raw.githubusercontent.com/{owner}/{repo}/{rest}"


def safe_component(value: str, what: str) -> str:
    """`value` if it is a plain name usable as one path component; else UnsafeNameError."""
    bad = (
        not value
        or value in (".", "..")
        or any(sep in value for sep in ("/", "\\", "\x00"))
        or os.path.isabs(value)
        or re.match(r"^[A-Za-z]:", value) is not None
    )
    if bad:
        raise UnsafeNameError(
            f"{what} {value!r} is not a plain file name (empty, '.', '..', a path separator, "
            "or an absolute path); refusing it before anything is written")
    if len(value.encode("utf-8", "surrogateescape")) > NAME_MAX:
        raise UnsafeNameError(f"{what} {value[:40]!r}... is longer than {NAME_MAX} bytes, the file system's "
                              "limit for a name; refusing it before anything is written")
    return value


# Companion files the cache keeps beside an asset (cache.py), and its temporary files (safefile.py):
# an asset may not be named like one of them.
CACHE_SUFFIXES = (".verified", ".part", ".part.json", ".tmp")
NAME_MAX = 255  # bytes in one file name, on Linux and macOS alike


def asset_file_name(link: str, what: str = "asset-link") -> str:
    """The name an asset is cached under: `url_file_name`, refused if the cache could not keep it.

    A name ending like one of the cache's companion files (``.verified``, ``.part``, ...) would be
    mistaken for one; a name that with its longest companion suffix exceeds `NAME_MAX` bytes would
    fail as ENAMETOOLONG half-way through a load. Both are refused here, before anything runs.
    """
    return check_asset_name(url_file_name(link, what), f"file name of {what}")


def check_asset_name(name: str, what: str = "asset file name") -> str:
    """`name` if the cache can keep an asset under it (see `asset_file_name`); else UnsafeNameError."""
    safe_component(name, what)
    if _CONTROL.search(name):
        raise UnsafeNameError(f"{what} {name!r} holds a control character (a newline, an escape...); "
                              "the metadata must name the file otherwise")
    if name.lower().endswith(CACHE_SUFFIXES):
        raise UnsafeNameError(f"{what} {name!r} ends like a file the cache keeps for itself "
                              f"({', '.join(CACHE_SUFFIXES)}); the metadata must name the file otherwise")
    longest = max(len(suffix) for suffix in CACHE_SUFFIXES)
    size = len(name.encode("utf-8", "surrogateescape"))
    if size + longest > NAME_MAX:
        raise UnsafeNameError(f"{what} is {size} bytes long ({name[:40]!r}...); the cache keeps "
                              f"names up to {NAME_MAX - longest} bytes (the file system's limit is {NAME_MAX}, "
                              "less room for its companion files); the metadata must name the file otherwise")
    return name


def printable(text: object) -> str:
    """`text` with control characters escaped (newlines, ANSI escapes, DEL, C1 codes), for one terminal line.

    >>> printable("a\\nb\\x1b[2J")
    'a\\\\nb\\\\x1b[2J'
    """
    return _CONTROL.sub(_escape, str(text))


def printable_lines(text: object) -> str:
    """`printable` for each line of a multi-line message: its own newlines stay, everything else is escaped."""
    return "\n".join(printable(line) for line in str(text).split("\n"))


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _escape(match: re.Match) -> str:
    character = match.group()
    return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(character, f"\\x{ord(character):02x}")


def url_file_name(link: str, what: str) -> str:
    """The last path segment of an http(s) URL, refused if the path has '.'/'..' segments or is unsafe."""
    parsed = urlparse(link)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise UnsafeNameError(f"{what} {link!r} is not an absolute http(s) URL; refusing it")
    segments = [unquote(segment) for segment in parsed.path.split("/")]
    if any(segment in (".", "..") for segment in segments):
        raise UnsafeNameError(f"{what} {link!r} has a '.' or '..' path segment; refusing it")
    return safe_component(segments[-1], f"file name of {what}")


def is_sha256(text: str) -> bool:
    """True for a sha256 hex digest as the cache names it: exactly 64 lower-case hex characters."""
    return _SHA256.fullmatch(text) is not None


def check_sha256(value: str, what: str = "asset-sha256") -> str:
    """The lower-case hex digest; a HubError if it is not 64 hex characters."""
    digest = (value or "").strip().lower()
    if not is_sha256(digest):
        raise HubError(
            f"{what} {value!r} is not a sha256 (64 hex characters); the metadata is broken, "
            "and an unverifiable file is not downloaded")
    return digest
