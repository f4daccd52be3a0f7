"""The checksum-verifying downloader, built on requests.

`fetch_file` streams a URL into ``DEST.part`` while hashing it in the same pass and
renames the part into place only when its sha256 matches; a mismatch deletes the part
and raises `ChecksumError`. An interrupted transfer is resumed with ``Range`` (and
``If-Range`` when the server gave a validator); the kept prefix is re-hashed first, and
a server that ignores the range makes the download start over. Connection errors,
timeouts, 429 and 5xx are retried with exponential backoff, honouring ``Retry-After``;
an attempt that made progress resumes at once and does not count as a failure.

Locking and verified markers belong to the caller (`mindspore_hub.cache`).
"""

from __future__ import annotations

import email.utils
import json
import logging
import os
import re
import shutil
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urljoin

import requests
import urllib3
from tqdm import tqdm

from . import hashes, settings, urls
from .errors import ChecksumError, DownloadError, OfflineError

log = logging.getLogger(__name__)

CHUNK = 1 << 20
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
BACKOFF = 0.5      # seconds before the first retry without progress; doubles each time
MAX_WAIT = 60.0    # cap on any single wait, Retry-After included
MAX_REDIRECTS = 10
TEXT_LIMIT = 1 << 20
_TRANSIENT_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
                     urllib3.exceptions.HTTPError)
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


class _Transient(Exception):
    """A failure worth another attempt; `progressed` if this attempt gained bytes."""

    def __init__(self, reason: str, wait: float | None = None, progressed: bool = False):
        super().__init__(reason)
        self.reason, self.wait, self.progressed = reason, wait, progressed


def fetch_file(url: str, dest: str | os.PathLike[str], sha256: str, label: str | None = None) -> Path:
    """Download `url` to `dest`, verified against `sha256`; resume a kept ``dest.part``.

    The caller holds the lock for `dest`. Mirrors (MSHUB_MIRRORS) are applied here.

    >>> fetch_file("https://example.org/m.ckpt", "/cache/m.ckpt", "ab12...")   # doctest: +SKIP
    PosixPath('/cache/m.ckpt')
    """
    dest = Path(dest)
    url = urls.asset_url(url)
    _require_online(url)
    part = _Part(dest)
    bar = tqdm(total=None, unit="B", unit_scale=True, unit_divisor=1024, desc=label or dest.name,
               disable=settings.progress_disabled() or not sys.stderr.isatty(), leave=False)
    try:
        with requests.Session() as session:
            _retrying(url, lambda: _transfer(session, url, part, bar))
    finally:
        bar.close()
        part.hasher.close()
    actual = part.hasher.hexdigest()
    if actual != sha256:
        size, hint = part.size, _html_hint(part)
        part.discard()
        raise ChecksumError(url, sha256, actual, size, hint)
    os.replace(part.path, dest)
    part.meta.unlink(missing_ok=True)
    return dest


def fetch_bytes(url: str, what: str = "URL", limit: int = TEXT_LIMIT) -> bytes:
    """The body of a small resource (a markdown file), with the same timeouts and retries."""
    url = urls.check(url, what)
    _require_online(url)

    def attempt() -> bytes:
        try:
            with _get(session, url, {}) as response:
                if response.status_code in RETRY_STATUS:
                    raise _Transient(f"HTTP {response.status_code}", _retry_after(response))
                if response.status_code != 200:
                    raise DownloadError(f"HTTP {response.status_code} {response.reason} for {what} {url}")
                body = bytearray()
                for chunk in response.iter_content(64 * 1024):
                    body += chunk
                    if len(body) > limit:
                        raise DownloadError(f"{what} {url} is larger than {limit} bytes; refusing it")
                return bytes(body)
        except _TRANSIENT_ERRORS as error:
            raise _Transient(_describe(error)) from error

    with requests.Session() as session:
        return _retrying(url, attempt)


def _require_online(url: str) -> None:
    if settings.offline():
        raise OfflineError(f"offline ({settings.OFFLINE}=1): not fetching {url}")


def _retrying(url: str, attempt):
    """Run `attempt` until it returns, retrying `_Transient` failures within MSHUB_RETRIES."""
    failures = 0
    while True:
        try:
            return attempt()
        except _Transient as error:
            failures = 0 if error.progressed else failures + 1
            if failures > settings.retries():
                raise DownloadError(
                    f"giving up on {url} after {failures} attempt(s) without progress: {error.reason}\n"
                    f"Check the network and proxy ({settings.TIMEOUT}, {settings.RETRIES}, HTTPS_PROXY), "
                    f"use a mirror ({settings.MIRRORS}), or work from the cache ({settings.OFFLINE}=1)."
                ) from error
            wait = error.wait
            if wait is None:
                wait = 0.0 if error.progressed else min(MAX_WAIT, BACKOFF * 2 ** (failures - 1))
            log.warning("%s: %s; retrying in %.1f s", url, error.reason, wait)
            time.sleep(wait)


def _get(session: requests.Session, url: str, headers: dict) -> requests.Response:
    """GET with redirects followed by hand, so every hop passes the URL policy before it is sent."""
    for _ in range(MAX_REDIRECTS + 1):
        response = session.get(url, headers=headers, stream=True, timeout=settings.timeout(),
                               allow_redirects=False, verify=True)
        if not response.is_redirect:
            return response
        target = urljoin(url, response.headers["Location"])
        response.close()
        url = urls.check(target, "redirect target")
    raise DownloadError(f"more than {MAX_REDIRECTS} redirects from {url}")


def _transfer(session: requests.Session, url: str, part: _Part, bar: tqdm) -> None:
    """One attempt: request the missing bytes and append them to the part file."""
    headers = {"Accept-Encoding": "identity"}
    if part.size:
        headers["Range"] = f"bytes={part.size}-"
        if part.validator and part.url == url:
            headers["If-Range"] = part.validator
    gained = 0
    try:
        with _get(session, url, headers) as response:
            total = _accept(response, part)
            if response.status_code == 416:
                return  # _accept found the kept part already complete
            _check_room(url, part, total)
            part.remember(url, response)
            bar.reset(total=total)
            bar.update(part.size)
            limit = settings.max_size()
            # read1 hands over what arrived before a dropped connection; iter_content would lose it.
            # Without a Content-Encoding the body is the file: reading it undecoded skips urllib3's
            # decoded-bytes buffer, which copies every partial read once more.
            read, decode = response.raw.read1, _encoded(response)
            update, progress = part.hasher.update, bar.update
            with open(part.path, "ab") as out:
                write = out.write
                while chunk := read(CHUNK, decode_content=decode):
                    write(chunk)
                    update(chunk)
                    size = len(chunk)
                    part.size += size
                    gained += size
                    progress(size)
                    if part.size > limit:
                        part.discard()
                        raise DownloadError(f"{url} sent more than {limit} bytes ({settings.MAX_SIZE}); "
                                            "refused and deleted")
            if total is not None and part.size < total:
                raise _Transient(f"connection closed after {part.size} of {total} bytes",
                                 progressed=gained > 0)
    except _TRANSIENT_ERRORS as error:
        raise _Transient(_describe(error), progressed=gained > 0) from error


def _accept(response: requests.Response, part: _Part) -> int | None:
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
        if not match or int(match.group(1)) != part.size:
            part.reset()
            raise _Transient("the server resumed at another offset; starting over", wait=0.0)
        return None if match.group(3) == "*" else int(match.group(3))
    if status == 200:
        if part.size:
            log.info("%s: the server ignored the range; downloading from the start", response.url)
            part.reset()
        length = response.headers.get("Content-Length", "")
        return int(length) if length.isdigit() else None
    raise DownloadError(f"HTTP {status} {response.reason} for {response.url}")


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


def _describe(error: Exception) -> str:
    kind = "timed out" if isinstance(error, requests.Timeout) or "timed out" in str(error) else "connection error"
    return f"{kind}: {error}"


def _html_hint(part: _Part) -> str:
    """Why the bytes might be wrong, when they look like a web page rather than a file."""
    try:
        with open(part.path, "rb") as handle:
            head = handle.read(512).lstrip().lower()
    except OSError:
        head = b""
    if "html" in part.content_type or head.startswith((b"<!doctype html", b"<html")):
        return ("the server sent an HTML page, not the file: the link probably points at a web page, "
                "a login or error page, or a mirror that is misconfigured")
    return ""


class _Part:
    """``DEST.part`` and its sidecar ``DEST.part.json`` (URL and validator for If-Range)."""

    def __init__(self, dest: Path):
        self.path = dest.with_name(dest.name + ".part")
        self.meta = dest.with_name(dest.name + ".part.json")
        self.hasher = hashes.StreamHasher()
        self.size = 0
        self.url = self.validator = None
        self.content_type = ""
        if self.path.exists():
            self.size = hashes.update_from_file(self.hasher, self.path)
            try:
                saved = json.loads(self.meta.read_text())
                self.url, self.validator = saved.get("url"), saved.get("validator")
            except (OSError, ValueError, AttributeError):
                pass

    def remember(self, url: str, response: requests.Response) -> None:
        """Keep what a later process needs to resume safely."""
        self.content_type = response.headers.get("Content-Type", "").lower()
        validator = response.headers.get("ETag") or response.headers.get("Last-Modified")
        if validator and validator.startswith("W/"):
            validator = None  # weak validators may not be used with If-Range
        if response.status_code == 200 or url != self.url:
            self.url, self.validator = url, validator
            self.meta.write_text(json.dumps({"url": url, "validator": validator}))

    def reset(self) -> None:
        self.path.write_bytes(b"")
        self.hasher.close()
        self.hasher, self.size = hashes.StreamHasher(), 0

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)
        self.meta.unlink(missing_ok=True)
        self.hasher.close()
        self.hasher, self.size = hashes.StreamHasher(), 0
