"""Which URLs may be fetched, and mirror rewriting.

TLS is always verified (requests' default, never turned off here); plain http is
accepted only for loopback hosts, which is how tests and local mirrors serve, or
when the user opts in with MSHUB_ALLOW_HTTP=1.

Every URL read from metadata, the environment or a redirect is judged by the parser
the HTTP client itself uses (urllib3's, through requests' prepared URL), so the host
the policy approves is the host requests connects to. Forms that parsers read
differently are refused outright: control characters and spaces (a newline could
smuggle a second URL into a record), backslashes (``http://a.invalid\\@127.0.0.1/``
is loopback to `urllib.parse` and ``a.invalid`` to urllib3), and user info
(``user@host``), which no hub link needs.
"""

from __future__ import annotations

import ipaddress
import re

import requests
from urllib3.util import parse_url

from . import settings
from .errors import DownloadError

_AMBIGUOUS = re.compile(r"[\x00-\x20\x7f-\x9f\\]")


def is_loopback(host: str | None) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1 (bracketed or not)."""
    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check(url: str, what: str = "URL", published: bool = False) -> str:
    """`url` if policy allows fetching it; DownloadError saying why not otherwise.

    The loader's rule (the default): https, or plain http to a loopback host or with
    MSHUB_ALLOW_HTTP=1. `published=True` is the stricter rule for links written in hub
    metadata (what `mshub validate` enforces): https only, because a published file must
    work for every user, whatever their local settings allow.

    >>> check("https://download.mindspore.cn/a.ckpt")
    'https://download.mindspore.cn/a.ckpt'
    """
    scheme, host = _scheme_and_host(url, what)
    if scheme == "https" and host:
        return url
    if published:
        raise DownloadError(f"{what} must be an absolute https:// URL, got {url!r}")
    if scheme == "http" and host:
        if is_loopback(host) or settings.allow_http():
            return url
        raise DownloadError(
            f"refusing plain http for {what} {url}: use https, or set "
            f"{settings.ALLOW_HTTP}=1 to accept unencrypted, unauthenticated transfers")
    raise DownloadError(f"refusing {what} {url!r}: only https (or http to loopback) is fetched")


def host_of(url: str) -> str:
    """The host requests would connect to for `url` (which `check` accepted)."""
    return _scheme_and_host(url, "URL")[1]


def _scheme_and_host(url: str, what: str) -> tuple[str, str]:
    """(scheme, host) as requests and urllib3 read `url`, refusing ambiguous forms first."""
    if not isinstance(url, str):
        raise DownloadError(f"{what} must be text, got {url!r}")
    bad = _AMBIGUOUS.search(url)
    if bad:
        raise DownloadError(f"refusing {what} {url!r}: it contains {bad.group()!r} (a control character, "
                            "a space or a backslash), which URL parsers read differently")
    try:
        prepared = requests.Request("GET", url).prepare().url
        parsed = parse_url(prepared)
    except (requests.exceptions.RequestException, ValueError) as error:
        scheme = url.split(":", 1)[0].lower() if ":" in url else ""
        if scheme not in ("http", "https"):
            raise DownloadError(f"refusing {what} {url!r}: only https (or http to loopback) is fetched") \
                from None
        raise DownloadError(f"refusing {what} {url!r}: not a valid URL ({error})") from None
    if parsed.auth is not None or "@" in (parsed.netloc or ""):
        raise DownloadError(f"refusing {what} {url!r}: user information (user@host) is not allowed in a link")
    return (parsed.scheme or "").lower(), (parsed.host or "")


def asset_url(link: str) -> str:
    """Where an asset link is fetched from: the link after MSHUB_MIRRORS, checked by `check`."""
    return mirrored(link, "asset link")


def mirrored(url: str, what: str = "URL") -> str:
    """Where `url` is fetched from: `url` after MSHUB_MIRRORS, then held to the policy (`check`).

    The policy judges the URL that is fetched, so a mirror cannot bring in what a link could not:
    rewriting to plain http elsewhere is refused as a plain http link is.
    """
    return check(apply_mirrors(url), what)


def apply_mirrors(url: str) -> str:
    """`url` with the first matching MSHUB_MIRRORS prefix replaced.

    With MSHUB_MIRRORS='https://download.mindspore.cn=https://mirror.example/ms', the link
    https://download.mindspore.cn/a.ckpt is fetched from https://mirror.example/ms/a.ckpt. The same
    rules rewrite hub metadata URLs and the repositories of repo-links (git fetches), so
    'https://gitee.com/mindspore=https://git.corp.example/mindspore' sends code fetches to a
    corporate git mirror.

    A prefix matches only up to a boundary (its end is the URL's end, or a ``/``, ``?`` or ``#`` of it
    or of the URL follows), so a link cannot extend the mirror's host or folder name:
    'https://download.mindspore.cn.attacker.example/a.ckpt' is not rewritten by the rule above.
    """
    for prefix, replacement in settings.mirrors():
        rest = url[len(prefix):]
        if url.startswith(prefix) and (not rest or prefix[-1] in "/?#" or rest[0] in "/?#"):
            return replacement + rest
    return url
