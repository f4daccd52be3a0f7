"""Upstream's download helpers, on this package's verified cache and pinned git fetches."""

from __future__ import annotations

import os
from pathlib import Path

from .. import cache, names, repo
from ..errors import HubError


def _download_file_from_url(url: str, hash_sha256: str | None = None, save_path: str | os.PathLike[str] = ".") -> str:
    """The verified copy of `url` in the hub cache (downloaded if needed); upstream's `save_path` is not used.

    Unlike upstream, a file is never fetched without its sha256 (an unverifiable file is refused),
    and it is kept where every load finds it verified: the cache, not `save_path`.
    """
    if not hash_sha256:
        raise ValueError(f"{url}: hash_sha256 is needed; this hub never keeps a file it cannot verify")
    return str(cache.fetch(url, names.check_sha256(hash_sha256), names.asset_file_name(url)))


def _download_repo_from_url(url: str, save_path: str | os.PathLike[str] = ".") -> bool:
    """Fetch the folder a repo-link names into ``save_path/<folder name>`` (as upstream); True when done.

    Mirrors (MSHUB_MIRRORS) and the URL policy apply as for `load`; the code is only written, not run.
    A folder of that name that an earlier call did not fetch is the user's: it is never replaced.
    """
    link = repo.parse_link(url)
    root = Path(save_path).expanduser().absolute()
    dest = root / link.name
    if os.path.lexists(dest) and repo.fetched_commit(dest) is None:
        raise HubError(f"{dest} already exists and was not fetched from a repo-link; not replacing it. "
                       "Move it, or pass another save_path")
    repo.fetch_folder(link, dest, root)
    return True
