"""The checksum-verifying downloader, built on requests.

`fetch_file` streams a URL into ``DEST.part`` while hashing it in the same pass and
renames the part into place only when its sha256 matches; a mismatch deletes the part
and raises `ChecksumError`. An interrupted transfer is resumed with ``Range`` (and
``If-Range`` when the server gave a validator); the kept prefix is re-hashed first, and
a server that ignores the range makes the download start over.

Retries are bounded three ways. An attempt counts as progress only when it leaves at least
`MIN_PROGRESS` more bytes kept than ever before (or finishes): such an attempt resumes at
once. Any other failure (an error before the first byte, or bytes that were lost again:
a server ignoring Range and dropping part-way) counts against MSHUB_RETRIES in a row and
backs off exponentially, honouring ``Retry-After``. And the whole download, attempts and
waits together, ends at MSHUB_DOWNLOAD_TIMEOUT. A host that does not resolve gets one short
retry: a DNS failure is not a congestion worth waiting out.

``Accept-Encoding: identity`` is asked for; a server that still applies a content coding
has its body decoded (the size cap counts decoded bytes), is never resumed (a range of an
encoded body is not a range of the file), and is judged complete by the end of its stream,
whose encoded length urllib3 checks against Content-Length.

Every file is written through `safefile` (no symbolic link is followed). Locking and
verified markers belong to the caller (`mindspore_hub.cache`).
"""

from __future__ import annotations

import email.utils
import errno
import json
import logging
import os
import re
import shutil
import socket
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from time import monotonic
from urllib.parse import urljoin

import requests
import urllib3
from tqdm import tqdm

from . import hashes, safefile, settings, urls
from .errors import ChecksumError, DownloadError, OfflineError

log = logging.getLogger(__name__)

CHUNK = 1 << 20
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
BACKOFF = 0.5      # seconds before the first retry without progress; doubles each time
MAX_WAIT = 60.0    # cap on any single wait, Retry-After included
MAX_REDIRECTS = 10
TEXT_LIMIT = 1 << 20
MIN_PROGRESS = 1 << 20  # new bytes an attempt must keep to resume at once
DNS_RETRIES = 1
_TRANSIENT_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
                     urllib3.exceptions.HTTPError, ConnectionError, socket.timeout)
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
_FULL_DISK = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))


class _Transient(Exception):
    """A failure worth another attempt; `dns` when the host name did not resolve."""

    def __init__(self, reason: str, wait: float | None = None, dns: bool = False):
        super().__init__(reason)
        self.reason, self.wait, self.dns = reason, wait, dns


def fetch_file(url: str, dest: str | os.PathLike[str], sha256: str, label: str | None = None,
               restart: bool = False) -> Path:
    """Download `url` to `dest`, verified against `sha256`; resume a kept ``dest.part`` unless `restart`.

    The caller holds the lock for `dest` and has made its folder. Mirrors (MSHUB_MIRRORS) are
    applied here. `dest` is replaced in one rename, only by verified bytes: until then a file
    already there stays as it was.

    >>> fetch_file("https://example.org/m.ckpt", "/cache/m.ckpt", "ab12...")   # doctest: +SKIP
    PosixPath('/cache/m.ckpt')
    """
    dest = Path(dest)
    url = urls.asset_url(url)
    _require_online(url)
    part = _Part(dest, restart)
    bar = tqdm(total=None, unit="B", unit_scale=True, unit_divisor=1024, desc=label or dest.name,
               disable=settings.progress_disabled() or not sys.stderr.isatty(), leave=False)
    deadline = _Deadline(url, part)
    try:
        with requests.Session() as session:
            _retrying(url, lambda: _transfer(session, url, part, bar, deadline), deadline, lambda: part.size)
    finally:
        bar.close()
        part.hasher.close()
    actual = part.hasher.hexdigest()
    if actual != sha256:
        size, hint = part.size, _html_hint(part)
        part.discard()
        raise ChecksumError(url, sha256, actual, size, hint)
    os.replace(part.path, dest)
    safefile.remove(part.meta)
    return dest


def fetch_bytes(url: str, what: str = "URL", limit: int = TEXT_LIMIT) -> bytes:
    """The body of a small resource (a markdown file), with the same timeouts and retries."""
    url = urls.mirrored(url, what)
    _require_online(url)
    deadline = _Deadline(url)

    def attempt() -> bytes:
        try:
            with open_url(session, url, timeout=deadline.timeout()) as response:
                if response.status_code in RETRY_STATUS:
                    raise _Transient(f"HTTP {response.status_code}", _retry_after(response))
                if response.status_code != 200:
                    raise DownloadError(f"HTTP {response.status_code} {response.reason} for {what} {url}",
                                        status=response.status_code)
                body = bytearray()
                for chunk in response.iter_content(64 * 1024):
                    body += chunk
                    deadline.check()
                    if len(body) > limit:
                        raise DownloadError(f"{what} {url} is larger than {limit} bytes; refusing it")
                return bytes(body)
        except _TRANSIENT_ERRORS as error:
            raise _transient(error, url) from error

    with requests.Session() as session:
        return _retrying(url, attempt, deadline)


def open_url(session: requests.Session, url: str, headers: dict | None = None, method: str = "GET",
             timeout=None) -> requests.Response:
    """A streamed response, redirects followed by hand so every hop passes the URL policy before it is sent.

    `timeout` defaults to MSHUB_TIMEOUT.
    """
    timeout = settings.timeout() if timeout is None else timeout
    for _ in range(MAX_REDIRECTS + 1):
        response = session.request(method, url, headers=headers or {}, stream=True, timeout=timeout,
                                   allow_redirects=False, verify=True)
        if not response.is_redirect:
            return response
        target = urljoin(url, response.headers["Location"])
        response.close()
        url = urls.check(target, "redirect target")
    raise DownloadError(f"more than {MAX_REDIRECTS} redirects from {url}")


def _require_online(url: str) -> None:
    if settings.offline():
        raise OfflineError(f"offline ({settings.OFFLINE}=1): not fetching {url}")


class _Deadline:
    """The end of a whole download (MSHUB_DOWNLOAD_TIMEOUT), checked between chunks and before waits."""

    def __init__(self, url: str, part: "_Part | None" = None):
        self.seconds = settings.download_timeout()
        self.end = monotonic() + self.seconds
        self.url, self.part = url, part

    def remaining(self) -> float:
        return self.end - monotonic()

    def timeout(self) -> tuple[float, float]:
        """MSHUB_TIMEOUT, the read timeout shortened to what is left of the deadline."""
        connect, read = settings.timeout()
        left = max(0.1, self.remaining())
        return (min(connect, left), min(read, left))

    def check(self) -> None:
        if self.remaining() <= 0:
            raise self.expired()

    def expired(self, reason: str = "") -> DownloadError:
        kept = ""
        if self.part is not None and self.part.size:
            kept = (f"; the {self.part.size} bytes received are kept in {self.part.path} and the next attempt "
                    "resumes them")
        why = f" (last failure: {reason})" if reason else ""
        return DownloadError(f"{self.url} did not finish within {settings.DOWNLOAD_TIMEOUT}={self.seconds:g} s"
                             f"{why}{kept}; raise {settings.DOWNLOAD_TIMEOUT} for a slow link")


def _retrying(url: str, attempt, deadline: _Deadline, kept=lambda: 0):
    """Run `attempt` until it returns, within the retry budget and the deadline (see the module docstring)."""
    failures = dns_failures = 0
    best = kept()
    while True:
        try:
            return attempt()
        except _Transient as error:
            now = kept()
            progressed = now >= best + MIN_PROGRESS
            best = max(best, now)
            if error.dns:
                dns_failures += 1
                if dns_failures > DNS_RETRIES:
                    raise DownloadError(
                        f"{error.reason} (for {url}): no network, or a DNS or proxy problem; "
                        f"work from the cache with {settings.OFFLINE}=1, or use a mirror ({settings.MIRRORS})"
                    ) from error
                wait = BACKOFF
            elif progressed:
                failures, wait = 0, 0.0 if error.wait is None else error.wait
            else:
                failures += 1
                if failures > settings.retries():
                    raise DownloadError(
                        f"giving up on {url} after {failures} attempt(s) without progress: {error.reason}. "
                        f"Check the network and proxy ({settings.TIMEOUT}, {settings.RETRIES}, HTTPS_PROXY), "
                        f"use a mirror ({settings.MIRRORS}), or work from the cache ({settings.OFFLINE}=1)."
                    ) from error
                wait = min(MAX_WAIT, BACKOFF * 2 ** (failures - 1)) if error.wait is None else error.wait
            if wait >= deadline.remaining():
                raise deadline.expired(error.reason) from error
            (log.info if error.dns else log.warning)("%s: %s; retrying in %.1f s", url, error.reason, wait)
            time.sleep(wait)


def _transfer(session: requests.Session, url: str, part: _Part, bar: tqdm, deadline: _Deadline) -> None:
    """One attempt: request the missing bytes and append them to the part file."""
    headers = {"Accept-Encoding": "identity"}
    if part.size:
        headers["Range"] = f"bytes={part.size}-"
        if part.validator and part.url == url:
            headers["If-Range"] = part.validator
    encoded = False
    try:
        with open_url(session, url, headers, timeout=deadline.timeout()) as response:
            encoded = _encoded(response)
            total = _accept(response, part, encoded)
            if response.status_code == 416:
                return  # _accept found the kept part already complete
            _check_room(url, part, total)
            part.remember(url, response)
            bar.reset(total=total)
            bar.update(part.size)
            _receive(url, response, part, bar, deadline, encoded)
            if total is not None and part.size < total:
                raise _Transient(f"connection closed after {part.size} of {total} bytes")
    except _TRANSIENT_ERRORS as error:
        if encoded:
            part.reset()  # bytes decoded from a content coding cannot be resumed with Range
        raise _transient(error, url) from error
    except _Transient:
        if encoded:
            part.reset()
        raise


def _receive(url: str, response: requests.Response, part: _Part, bar: tqdm, deadline: _Deadline,
             encoded: bool) -> None:
    """Append the body to the part file, hashing it on the way, within the size cap and the deadline."""
    limit = settings.max_size()
    # read1 hands over what arrived before a dropped connection; iter_content would lose it.
    # Without a Content-Encoding the body is the file: reading it undecoded skips urllib3's
    # decoded-bytes buffer, which copies every partial read once more.
    read, update, progress = response.raw.read1, part.hasher.update, bar.update
    descriptor = part.open()
    try:
        while chunk := read(CHUNK, decode_content=encoded):
            try:
                safefile.write_all(descriptor, chunk)
            except OSError as error:
                if error.errno in _FULL_DISK:
                    raise _full_disk(url, part) from None
                raise
            update(chunk)
            size = len(chunk)
            part.size += size
            progress(size)
            if part.size > limit:
                part.discard()
                raise DownloadError(f"{url} sent more than {limit} bytes ({settings.MAX_SIZE}); "
                                    "refused and deleted")
            deadline.check()
    finally:
        os.close(descriptor)


def _full_disk(url: str, part: _Part) -> DownloadError:
    written = part.size
    part.discard()
    folder = part.path.parent
    return DownloadError(
        f"no space left on the disk of {folder} while downloading {url} into {part.path.name} "
        f"({written} bytes written); the partial file was deleted. Free space there (`mshub cache ls`, "
        f"`mshub cache rm`), or point {settings.HUB_DIR} at a larger disk, and try again")


def _accept(response: requests.Response, part: _Part, encoded: bool) -> int | None:
    """Check the status; return the full size if known. Resets the part when the range was not honoured."""
    status = response.status_code
    if status in RETRY_STATUS:
        raise _Transient(f"HTTP {status}", _retry_after(response))
    if status == 416 and part.size:
        match = re.fullmatch(r"bytes\s+\*/(\d+)", response.headers.get("Content-Range", "").strip())
        if match and int(match.group(1)) == part.size:
            return None
        part.reset()
        raise _Transient("the server refused the resumed range (HTTP 416); starting over", wait=0.0)
    if status == 206:
        match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", "").strip())
        if encoded or not match or int(match.group(1)) != part.size:
            part.reset()
            raise _Transient("the server resumed at another offset (or encoded the range); starting over",
                             wait=0.0)
        return None if match.group(3) == "*" else int(match.group(3))
    if status == 200:
        if part.size:
            log.info("%s: the server ignored the range; downloading from the start", response.url)
            part.reset()
        length = response.headers.get("Content-Length", "")
        # With a content coding, Content-Length counts encoded bytes, not the file's.
        return int(length) if length.isdigit() and not encoded else None
    raise DownloadError(f"HTTP {status} {response.reason} for {response.url}", status=status)


def _encoded(response: requests.Response) -> bool:
    """True when the server applied a content coding (despite ``Accept-Encoding: identity``)."""
    return response.headers.get("Content-Encoding", "identity").strip().lower() not in ("", "identity")


def _check_room(url: str, part: _Part, total: int | None) -> None:
    """Refuse before writing when the file is over the size cap or the disk is too full."""
    if total is None:
        return
    limit = settings.max_size()
    if total > limit:
        raise DownloadError(f"{url} is {total} bytes, over the {limit}-byte cap; raise {settings.MAX_SIZE} "
                            "to allow it")
    free = shutil.disk_usage(part.path.parent).free
    if total - part.size > free:
        raise DownloadError(f"not enough disk space for {url}: {total - part.size} bytes needed, "
                            f"{free} free in {part.path.parent}")


def _retry_after(response: requests.Response) -> float | None:
    """Seconds asked for by a Retry-After header (seconds or HTTP date), capped at MAX_WAIT."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return min(MAX_WAIT, float(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return min(MAX_WAIT, max(0.0, (when - datetime.now(timezone.utc)).total_seconds()))


def _transient(error: BaseException, url: str) -> _Transient:
    """A one-line `_Transient` for a transport error: what failed, and with which host."""
    host = urls.host_of(url)
    causes = _causes(error)

    def caused_by(*kinds) -> bool:
        return any(isinstance(cause, kinds) for cause in causes)

    if caused_by(urllib3.exceptions.NameResolutionError, socket.gaierror):
        return _Transient(f"connection error: cannot resolve host {host}", dns=True)
    if caused_by(ConnectionRefusedError):
        return _Transient(f"connection error: {host} refused the connection")
    new_connection = [cause for cause in causes if isinstance(cause, urllib3.exceptions.NewConnectionError)]
    if new_connection:  # urllib3 derives it from ConnectTimeoutError, but it is no timeout
        inner = next((cause for cause in causes if isinstance(cause, OSError)), new_connection[0])
        return _Transient(f"connection error: cannot connect to {host}: {_first_line(inner)}")
    if caused_by(requests.ConnectTimeout, urllib3.exceptions.ConnectTimeoutError):
        return _Transient(f"timed out connecting to {host}")
    if caused_by(requests.ReadTimeout, urllib3.exceptions.ReadTimeoutError, socket.timeout) \
            or "timed out" in str(error):
        return _Transient(f"timed out: {host} sent nothing for {settings.timeout()[1]:g} s")
    if caused_by(urllib3.exceptions.ProtocolError, requests.exceptions.ChunkedEncodingError):
        return _Transient(f"connection error: the transfer from {host} broke off")
    return _Transient(f"connection error with {host}: {_first_line(causes[-1])}")


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:200] if text else type(error).__name__


def _causes(error: BaseException) -> list[BaseException]:
    """`error` and what it wraps (requests and urllib3 nest the real cause in `reason`, `args`, __cause__)."""
    found: list[BaseException] = []
    pending = [error]
    while pending and len(found) < 20:
        current = pending.pop(0)
        if current in found:
            continue
        found.append(current)
        nested = [getattr(current, "reason", None), current.__cause__, current.__context__, *current.args]
        pending += [item for item in nested if isinstance(item, BaseException)]
    return found


def _html_hint(part: _Part) -> str:
    """Why the bytes might be wrong, when they look like a web page rather than a file."""
    try:
        with safefile.open_read(part.path) as handle:
            head = handle.read(512).lstrip().lower()
    except OSError:
        head = b""
    if "html" in part.content_type or head.startswith((b"<!doctype html", b"<html")):
        return ("the server sent an HTML page, not the file: the link probably points at a web page, "
                "a login or error page, or a mirror that is misconfigured")
    return ""


class _Part:
    """``DEST.part`` and its sidecar ``DEST.part.json`` (URL and validator for If-Range).

    A link or other non-regular file found at either name is removed, never read or written through.
    """

    def __init__(self, dest: Path, restart: bool = False):
        self.path = dest.with_name(dest.name + ".part")
        self.meta = dest.with_name(dest.name + ".part.json")
        self.hasher = hashes.StreamHasher()
        self.size = 0
        self.url = self.validator = None
        self.content_type = ""
        safefile.clear(self.path)
        safefile.clear(self.meta)
        if restart:
            self.discard()
        elif safefile.regular_stat(self.path) is not None:
            with safefile.open_read(self.path) as kept:
                self.size = hashes.update_from_file(self.hasher, kept)
            try:
                with safefile.open_read(self.meta) as sidecar:
                    saved = json.loads(sidecar.read(64 * 1024))
                self.url, self.validator = saved.get("url"), saved.get("validator")
            except (OSError, ValueError, AttributeError):
                pass

    def open(self) -> int:
        """A descriptor appending to the part file."""
        return safefile.open_append(self.path)

    def remember(self, url: str, response: requests.Response) -> None:
        """Keep what a later process needs to resume safely."""
        self.content_type = response.headers.get("Content-Type", "").lower()
        validator = response.headers.get("ETag") or response.headers.get("Last-Modified")
        if validator and (validator.startswith("W/") or _UNPRINTABLE.search(validator)):
            validator = None  # weak validators may not be used with If-Range
        if response.status_code == 200 or url != self.url:
            self.url, self.validator = url, validator
            safefile.write_atomic(self.meta.parent, self.meta, json.dumps({"url": url, "validator": validator}))

    def reset(self) -> None:
        safefile.truncate(self.path)
        self.hasher.close()
        self.hasher, self.size = hashes.StreamHasher(), 0

    def discard(self) -> None:
        safefile.remove(self.path)
        safefile.remove(self.meta)
        self.hasher.close()
        self.hasher, self.size = hashes.StreamHasher(), 0


_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f]")
