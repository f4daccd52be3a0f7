"""Which URLs may be fetched, and mirror rewriting.

TLS is always verified (requests' default, never turned off here); plain http is
accepted only for loopback hosts, which is how tests and local mirrors serve, or
when the user opts in with MSHUB_ALLOW_HTTP=1.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlparse

from . import settings
from .errors import DownloadError


def is_loopback(host: str | None) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1."""
    if not host:
        return False
    if host.lower() == "localhost":
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
    """
    parsed = urlparse(url)
    scheme = parsed.scheme.lower()
    if scheme == "https" and parsed.hostname:
        return url
    if published:
        raise DownloadError(f"{what} must be an absolute https:// URL, got {url!r}")
    if scheme == "http" and parsed.hostname:
        if is_loopback(parsed.hostname) or settings.allow_http():
            return url
        raise DownloadError(
            f"refusing plain http for {what} {url}: use https, or set "
            f"{settings.ALLOW_HTTP}=1 to accept unencrypted, unauthenticated transfers")
    raise DownloadError(f"refusing {what} {url!r}: only https (or http to loopback) is fetched")


def asset_url(link: str) -> str:
    """Where an asset link is fetched from: the link after MSHUB_MIRRORS, checked by `check`."""
    return check(apply_mirrors(link), "asset link")


def apply_mirrors(url: str) -> str:
    """`url` with the first matching MSHUB_MIRRORS prefix replaced.

    With MSHUB_MIRRORS='https://download.mindspore.cn=https://mirror.example/ms', the link
    https://download.mindspore.cn/a.ckpt is fetched from https://mirror.example/ms/a.ckpt.
    """
    for prefix, replacement in settings.mirrors():
        if url.startswith(prefix):
            return replacement + url[len(prefix):]
    return url
