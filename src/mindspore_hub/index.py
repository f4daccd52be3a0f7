"""Finding a model's metadata, and listing the models a hub offers.

Lookup order for a uid: the local hub roots (directories in MSHUB_RES_DIRS, then this
project's ``mshub_res`` shipped as package data; skipped when the caller names a remote
``source``, 'gitee' or 'github', so that upstream's current card is read), then a copy cached from the remote hub
index, then the remote hub index itself (gitee by default, GitHub with ``source='github'``,
any endpoint with MSHUB_INDEX_URL), on the branch of the uid's era (``r1.3`` for
``mindspore/ascend/1.3/...``, ``master`` for 3-part uids) or, for a 4-part uid that branch does
not hold, on one that does (`listing.branch_for`: learned from the index repository when the era's
branch answers 404, so a lookup that finds its card never needs git). Remote files are parsed before they are
cached, so a broken file is never kept.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import logging
from pathlib import Path
from urllib.parse import quote, unquote, urlparse

from . import cache, listing, names, settings
from .download import fetch_bytes
from .errors import DownloadError, HubError, IndexUnavailableError, OfflineError
from .metadata import ModelInfo, parse_file, parse_text

log = logging.getLogger(__name__)

INDEX_URLS = {
    "gitee": "https://gitee.com/mindspore/hub/raw/{branch}/mshub_res/assets/{uid}.md",
    "github": "https://raw.githubusercontent.com/mindspore-ai/hub/{branch}/mshub_res/assets/{uid}.md",
}


def local_roots() -> list[Path]:
    """Local hub roots in search order (each holds an ``assets/`` tree)."""
    roots = settings.res_dirs()
    packaged = packaged_root()
    if packaged is not None:
        roots.append(packaged)
    return roots


def packaged_root() -> Path | None:
    """This project's mshub_res: package data when installed, the checkout's folder otherwise."""
    try:
        # a namespace package (no __init__.py): joinpath gives a real path inside it
        assets = importlib.resources.files("mindspore_hub._res").joinpath("assets")
        if isinstance(assets, Path) and assets.is_dir():
            return assets.parent
    except (ModuleNotFoundError, TypeError, ValueError):
        pass
    checkout = Path(__file__).resolve().parents[2] / "mshub_res"
    return checkout if (checkout / "assets").is_dir() else None


def find_local(uid: str) -> Path | None:
    """The markdown file of `uid` in a local hub root, if any."""
    for root in local_roots():
        for base in (root / "assets", root):
            candidate = base / f"{uid}.md"
            if candidate.is_file():
                return candidate
    return None


def remote_url(name: names.Name, source: str | None = None, branch: str | None = None) -> str:
    """The URL of a uid's markdown in the remote hub index, on `branch` (default: the cached routing)."""
    template = settings.index_url() or INDEX_URLS["github" if source == "github" else "gitee"]
    branch = branch or listing.branch_for(name, source, fetch=False)  # a learned one is the index's text
    return template.format(branch=quote(branch, safe="/"), uid=quote(name.uid))


def lookup(name: names.Name, source: str | None = None, force_reload: bool = False) -> ModelInfo:
    """The parsed metadata for a parsed name, fetching and caching it if it is remote.

    A 4-part uid goes to its era's branch, or to the one the cached branch listing names; when that
    answers 404, the listing is learned (once) and, if another branch holds the uid, read from there.
    """
    if name.path is not None:
        twin = names.english_twin(str(name.path))
        return parse_file(twin if twin is not None and Path(twin).is_file() else name.path)
    if name.uid is None:
        return _remote(names.english_twin(name.url) or name.url, name, force_reload)  # a _cn card: its twin
    local = find_local(name.uid) if source is None else None  # 'gitee'/'github': the remote index's card
    if local is not None:
        return parse_file(local)
    branch = listing.branch_for(name, source, fetch=False)
    try:
        return _remote(remote_url(name, source, branch), name, force_reload)
    except DownloadError as error:
        if error.status != 404:
            raise
        # learns the index's branches once (then cached; again with force_reload)
        holder = listing.branch_for(name, source, force_reload=force_reload)
        if holder == branch:
            raise
        return _remote(remote_url(name, source, holder), name, force_reload)


def current_card(name: names.Name, source: str = "gitee") -> ModelInfo:
    """The remote index's card for a uid as it is now, read without writing the cache.

    For a message that names what the hub offers today: reading it must not replace the card a later
    `lookup` finds, or the next load would switch weights without being asked.
    """
    body = fetch_bytes(remote_url(name, source), "hub metadata")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise HubError(f"the hub's current card for {name.text} is not UTF-8 text") from None
    return parse_text(text)


def _remote(url: str, name: names.Name, force_reload: bool) -> ModelInfo:
    """The metadata at `url`: its cached copy, else fetched, parsed, then cached."""
    cached = _cached_path(url, name.uid)
    if cached.is_file() and not force_reload:
        return parse_file(cached)
    if settings.offline():
        searched = ", ".join(str(root) for root in local_roots()) or "none"
        raise OfflineError(f"offline ({settings.OFFLINE}=1) and no metadata for {name.text}: "
                           f"not in the local hub roots ({searched}) nor cached at {cached}")
    body = fetch_bytes(url, "hub metadata")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise HubError(f"{url} is not UTF-8 text; is it a hub markdown file?") from None
    info = parse_text(text, path=str(cached))
    cache.write_atomically(cached, text)
    return info


def _cached_path(url: str, uid: str | None) -> Path:
    """Where a remote markdown is cached: under ``assets/<uid>.md``, so its uid can be read back."""
    key = hashlib.sha256(url.encode()).hexdigest()[:16]
    if uid is not None:
        tail = ["assets", *uid.split("/")]
        tail[-1] += ".md"
    else:
        segments = [unquote(segment) for segment in urlparse(url).path.split("/") if segment]
        start = len(segments) - segments[::-1].index("assets") - 1 if "assets" in segments else len(segments) - 1
        tail = segments[start:]
    for segment in tail:
        names.safe_component(segment, "metadata URL path segment")
    return cache.root().joinpath("metadata", key, *tail)


def list_uids(version: str | None = None, force_reload: bool = False, local_only: bool = False) -> list[str]:
    """Every uid of the local hub roots and of the remote index branch for `version`.

    The remote part comes from `listing.branches`; IndexUnavailableError when it cannot be had,
    unless `local_only` (or offline), which lists the local roots and the cached listing only.
    """
    wanted = None if version in (None, "master") else str(version).lstrip("vr")
    branch = "master" if wanted is None else "r" + wanted
    found = set()
    for root in local_roots():
        found |= _uids_under(root / "assets")
    if wanted is not None:
        found = {uid for uid in found if uid.split("/")[-2].lstrip("vr") == wanted}
    remote = listing.branches(force_reload=force_reload, local_only=local_only)
    if remote is None:
        log.info("listing the local hub roots only: the remote index is not cached, and %s",
                 "offline" if settings.offline() else "local_only was asked")
    elif branch not in remote:
        if not local_only and not settings.offline():
            raise IndexUnavailableError(f"the hub index {listing.index_repo()} has no branch {branch} "
                                        f"(it has {', '.join(sorted(remote))})")
    else:
        found |= set(remote[branch])
    return sorted(found)


def _uids_under(assets: Path) -> set[str]:
    """uids of the English markdown files under a local ``assets`` folder (see `listing.uids_of`)."""
    if not assets.is_dir():
        return set()
    return listing.uids_of([path.relative_to(assets).as_posix() for path in assets.rglob("*.md")])
