"""Whose code the user agreed to run: never decided silently.

A repository is trusted for one call by ``trust_repo=True`` (which also remembers it), for
every call by MSHUB_TRUST_REPO=1, or persistently by a record in
``<hub dir>/trusted_repos.json`` (``mshub trust URL`` adds one). The file is structured JSON,
written atomically under a lock, and each record is one URL that passed the URL policy
(`urls.check`): a URL carrying a newline cannot turn into two records, and a record that is
not a clean URL is ignored. An older ``trusted_repos.txt`` (one URL a line) is migrated once
and renamed ``trusted_repos.txt.migrated``; lines that are not clean URLs are dropped, with a
warning naming them.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
from pathlib import Path

from . import cache, manage, names, safefile, settings, urls
from .errors import HubError, UntrustedRepoError

log = logging.getLogger(__name__)

FILE_NAME = "trusted_repos.json"
LEGACY_FILE_NAME = "trusted_repos.txt"
FORMAT = "mindspore_hub trusted repositories"
LIMIT = 1 << 20  # bytes read of the file at most


def trusted_file() -> Path:
    return Path(manage.get_hub_dir()) / FILE_NAME


def trusted_repos() -> set[str]:
    """The repositories recorded as trusted."""
    _migrate()
    return {record["url"] for record in _records()}


def remember(repo_url: str) -> None:
    """Record `repo_url` as trusted (it must pass the URL policy)."""
    urls.check(repo_url, "trusted repository")
    with cache.locked("trusted-repos"):
        _migrate_locked()
        records = _records()
        if any(record["url"] == repo_url for record in records):
            return
        now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        _write(records + [{"url": repo_url, "trusted": now}])


def forget(repo_url: str) -> bool:
    """Remove `repo_url` from the records; False if it was not there."""
    with cache.locked("trusted-repos"):
        _migrate_locked()
        records = _records()
        kept = [record for record in records if record["url"] != repo_url]
        if len(kept) == len(records):
            return False
        _write(kept)
        return True


def require(repo_url: str, what: str, trust_repo: bool | None) -> None:
    """Return if running code from `repo_url` is allowed; raise UntrustedRepoError saying how to allow it."""
    if trust_repo:
        remember(repo_url)
        return
    if trust_repo is None and (settings.trust_all_repos() or repo_url in trusted_repos()):
        return
    raise UntrustedRepoError(
        f"{what} needs to run Python code from {repo_url}, which you have not trusted; "
        "nothing was fetched or run. Read that code first, then either pass trust_repo=True "
        f"(it is then remembered in {trusted_file()}), run `mshub trust {repo_url}`, "
        f"or set {settings.TRUST_REPO}=1 to trust every repository.")


def _records() -> list[dict]:
    """The well-formed records of the trusted file; anything else in it is ignored with a warning."""
    path = trusted_file()
    try:
        with safefile.open_read(path) as handle:
            document = json.loads(handle.read(LIMIT).decode("utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError, HubError) as error:
        log.warning("ignoring %s, which cannot be read as trust records (%s); no repository is trusted by it",
                    path, error)
        return []
    listed = document.get("repositories") if isinstance(document, dict) else None
    if not isinstance(listed, list):
        log.warning("ignoring %s: it has no list of repositories", path)
        return []
    records = []
    for record in listed:
        url = record.get("url") if isinstance(record, dict) else None
        if isinstance(url, str) and _clean(url):
            records.append(record)
        else:
            log.warning("ignoring a malformed record in %s: %s", path, names.printable(repr(record)[:200]))
    return records


def _write(records: list[dict]) -> None:
    document = {"format": FORMAT, "version": 1, "repositories": records}
    safefile.write_atomic(manage.get_hub_dir(), trusted_file(), json.dumps(document, indent=1) + "\n")


def _clean(url: str) -> bool:
    try:
        urls.check(url, "trusted repository")
    except HubError:
        return False
    return True


def _migrate() -> None:
    legacy = trusted_file().with_name(LEGACY_FILE_NAME)
    if os.path.lexists(legacy) and not os.path.lexists(trusted_file()):
        with cache.locked("trusted-repos"):
            _migrate_locked()


def _migrate_locked() -> None:
    """Turn the old one-URL-a-line file into records (the caller holds the trust lock)."""
    legacy = trusted_file().with_name(LEGACY_FILE_NAME)
    if not os.path.lexists(legacy) or os.path.lexists(trusted_file()):
        return
    try:
        with safefile.open_read(legacy) as handle:
            lines = handle.read(LIMIT).decode("utf-8", "replace").splitlines()
    except (OSError, HubError) as error:
        log.warning("not migrating %s: %s", legacy, error)
        return
    records, dropped = [], []
    for line in lines:
        url = line.split("#", 1)[0].strip()
        if not url:
            continue
        if _clean(url) and url not in {record["url"] for record in records}:
            records.append({"url": url, "trusted": "migrated from " + LEGACY_FILE_NAME})
        elif not _clean(url):
            dropped.append(url)
    _write(records)
    os.replace(legacy, legacy.with_name(LEGACY_FILE_NAME + ".migrated"))
    if dropped:
        log.warning("%s: dropped %d line(s) that are not clean repository URLs: %s", legacy, len(dropped),
                    ", ".join(names.printable(line) for line in dropped))
