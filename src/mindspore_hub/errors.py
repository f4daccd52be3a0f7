"""The errors mindspore_hub raises, so callers can catch one family.

Every message says what failed and what the user can do about it.
"""

from __future__ import annotations


class HubError(Exception):
    """Base class of every mindspore_hub error."""


class UnsafeNameError(HubError, ValueError):
    """A file or folder name taken from metadata could escape its directory."""


class UnsafePathError(HubError):
    """A folder inside the cache is a symbolic link (or not a folder): writing there would leave the cache."""


class OfflineError(HubError):
    """Offline mode is on and something needed is not cached."""


class DownloadError(HubError):
    """A transfer failed for good (after retries) or was refused before it started.

    `status` is the HTTP status that ended it, when a server answered one (404...), else None.
    """

    def __init__(self, *args, status: int | None = None):
        super().__init__(*args)
        self.status = status


class ChecksumError(DownloadError):
    """The downloaded bytes do not have the sha256 the metadata promises."""

    def __init__(self, url: str, expected: str, actual: str, size: int, hint: str = ""):
        self.url, self.expected, self.actual, self.size = url, expected, actual, size
        lines = [
            f"sha256 mismatch for {url}",
            f"  expected: {expected}",
            f"  actual:   {actual}",
            f"  size:     {size} bytes",
            "The downloaded file was deleted; it is not kept in the cache. The next attempt downloads it again.",
        ]
        if hint:
            lines.append(f"Hint: {hint}")
        super().__init__("\n".join(lines))


class IndexUnavailableError(HubError, ConnectionError):
    """The remote hub index could not be listed (upstream's `hub_list` raises too, rather than list part)."""


class LockTimeoutError(HubError):
    """Another process held the download lock for longer than the lock timeout."""


class UntrustedRepoError(HubError):
    """Running code from a repository the user has not trusted was refused."""


def mismatch_report(missing: list[str], mismatched: list[tuple[str, str, str]], source: str = "") -> str:
    """Lines naming every missing parameter and every shape or dtype mismatch (network vs checkpoint)."""
    lines = [f"the checkpoint{' ' + source if source else ''} does not fit the network:"]
    if missing:
        lines.append(f"  {len(missing)} parameter(s) of the network missing from the checkpoint:")
        lines += [f"    {name}" for name in missing]
    if mismatched:
        lines.append(f"  {len(mismatched)} shape or dtype mismatch(es) (network vs checkpoint):")
        lines += [f"    {name}: {net} vs {ckpt}" for name, net, ckpt in mismatched]
    return "\n".join(lines)


class WeightsMismatchError(HubError):
    """A checkpoint does not fit the network (missing parameters, wrong shapes or dtypes)."""

    def __init__(self, missing: list[str], mismatched: list[tuple[str, str, str]], source: str = ""):
        self.missing, self.mismatched = missing, mismatched
        super().__init__(mismatch_report(missing, mismatched, source)
                         + "\nPass strict=False to load what fits (the rest is logged).")
