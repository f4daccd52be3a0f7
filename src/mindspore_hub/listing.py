"""The remote hub index's branches and the uids each holds: learned once with git, cached, read offline.

Upstream files 4-part uids (``publisher/backend/version/model``) on release branches, but not always on
``r<version>``: there is no ``r0.7`` branch, and many ``1.0``, ``1.1`` and ``1.4`` uids live only on a
later release branch. `branch_for` sends such a uid to a branch that holds it. The listing comes from
one shallow fetch of every branch head without file contents (`repo.list_branches`) and is kept as
JSON in the cache (``index/<key>/branches.json``) until ``force_reload``; offline, the cached one is used.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from . import cache, names, repo, safefile, settings, urls
from .errors import HubError, IndexUnavailableError

log = logging.getLogger(__name__)

ASSETS = "mshub_res/assets"
MAX_LISTING = 64 << 20  # bytes; the real index lists a few thousand uids
INDEX_REPOS = {
    "gitee": "https://gitee.com/mindspore/hub.git",
    "github": "https://github.com/mindspore-ai/hub.git",
}


def index_repo(source: str | None = None) -> str:
    """The index repository: MSHUB_INDEX_REPO, else upstream's on gitee (GitHub with ``source='github'``)."""
    url = settings.index_repo() or INDEX_REPOS["github" if source == "github" else "gitee"]
    return urls.check(url, settings.INDEX_REPO)  # a bad setting is an error: file:// and plain http elsewhere are refused


def branches(source: str | None = None, force_reload: bool = False,
             local_only: bool = False) -> dict[str, list[str]] | None:
    """{branch: sorted uids} of the index repository; None when it is not cached and may not be fetched.

    Raises IndexUnavailableError when it had to be fetched and could not be.
    """
    url = index_repo(source)
    path = _cache_file(url)
    cached = _read(path)
    if cached is not None and not force_reload:
        return cached
    if local_only or settings.offline():
        return cached
    try:
        listing = repo.list_branches(url, ASSETS, path.parent, cache.root())
    except (HubError, OSError) as error:
        raise IndexUnavailableError(
            f"could not list the remote hub index {url}: {error}\n"
            f"Check the network or a mirror ({settings.MIRRORS}), point {settings.INDEX_REPO} at a reachable copy, "
            f"or list only the local hub roots and the cache (local_only=True, `mshub list --local`, "
            f"or {settings.OFFLINE}=1).") from error
    result = {branch: sorted(uids_of(paths)) for branch, paths in listing.items()}
    cache.write_atomically(path, json.dumps(result))
    return result


def branch_for(name: names.Name, source: str | None = None, fetch: bool = True, force_reload: bool = False) -> str:
    """The index branch to read a uid from: its era's (`names.Name.branch`), unless only another has it.

    A 4-part uid missing from ``r<version>`` goes to the newest release branch that lists it (master
    last). The listing is the cached one, learned first if `fetch` (and online; again if
    `force_reload`, for a uid published after it was learned). When it cannot be
    had (not cached and not fetched, or the repository unreachable), the era's branch is used and
    the lookup itself reports what is missing.
    """
    preferred = name.branch
    if len(name.parts) != 4:
        return preferred
    try:
        listing = branches(source, force_reload=fetch and force_reload, local_only=not fetch)
    except IndexUnavailableError as error:
        log.info("looking %s up on branch %s: %s", names.printable(name.uid), preferred, names.printable(error))
        return preferred
    if listing is None or name.uid in listing.get(preferred, ()):
        return preferred
    holders = [branch for branch, uids in listing.items() if name.uid in uids]
    if not holders:
        return preferred
    choice = max(holders, key=_release_order)
    log.info("%s is not on branch %s of the hub index; reading it from %s", names.printable(name.uid),
             preferred, choice)
    return choice


def uids_of(paths: list[str]) -> set[str]:
    """uids of the English markdown files among index paths (``mshub_res/assets/<uid>.md``).

    Only paths that `names.parse` reads back as the same uid are kept: a file named with a newline or
    an escape sequence in a fetched index never reaches a terminal or `load`.
    """
    uids = set()
    for path in paths:
        relative = path[len(ASSETS) + 1:] if path.startswith(ASSETS + "/") else path
        if not relative.endswith(".md") or relative.endswith("_cn.md"):
            continue
        relative = relative[: -len(".md")]
        try:
            if names.parse(relative).uid == relative:
                uids.add(relative)
        except (ValueError, TypeError):
            log.info("skipping %s in the hub index: not a uid", names.printable(relative))
    return uids


def _release_order(branch: str) -> tuple:
    """Release branches (``r1.3``) by version, newest highest; any other branch (master) below them."""
    version = branch[1:] if branch[:1] == "r" else ""
    parts = version.split(".")
    if version and all(part.isdigit() for part in parts):
        return (1, tuple(int(part) for part in parts))
    return (0, ())


def _cache_file(url: str) -> Path:
    key = hashlib.sha256(url.encode()).hexdigest()[:16]
    return cache.root() / "index" / key / "branches.json"


def _read(path: Path) -> dict[str, list[str]] | None:
    """The cached listing, or None when it is absent or not the shape this module writes."""
    try:
        with safefile.open_read(path) as handle:  # never through a link
            data = json.loads(handle.read(MAX_LISTING).decode("utf-8"))
    except (OSError, ValueError, HubError):
        return None
    if not isinstance(data, dict) or not all(
            isinstance(branch, str) and isinstance(uids, list) and all(isinstance(uid, str) for uid in uids)
            for branch, uids in data.items()):
        return None
    return data
