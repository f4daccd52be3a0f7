"""Fetching one folder of a git repository, shallowly and pinned.

A metadata ``repo-link`` such as
``https://gitee.com/mindspore/mindspore/tree/r1.3/model_zoo/research/cv/ssd_resnet50`` names a
repository, a ref and a folder. `fetch_folder` asks git for that ref at depth 1 with a sparse
checkout of just that folder, records the commit it got, and moves the folder into place; later
loads reuse it until `force_reload`. Running the code is `code.py`'s business, after trust.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from . import names, settings, urls
from .errors import HubError, OfflineError

SOURCE_FILE = ".mshub_source.json"
GIT_TIMEOUT = 900
_LINK = re.compile(r"^(?P<repo>.+?)/(?:-/)?(?:tree|blob|src)/(?P<ref>[^/]+)(?:/(?P<folder>.*?))?/?$")
_REF = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._/-]*")


@dataclass(frozen=True)
class RepoLink:
    """A repository URL, a ref (None: the default branch) and a folder inside it ('' for the root)."""

    url: str
    ref: str | None
    folder: str

    @property
    def name(self) -> str:
        """The folder's own name (or the repository's), checked to be a plain name."""
        last = self.folder.rsplit("/", 1)[-1] if self.folder else urlparse(self.url).path.rstrip("/")
        last = last.rsplit("/", 1)[-1]
        if last.endswith(".git"):
            last = last[: -len(".git")]
        return names.safe_component(last, "repo-link folder name")


def parse_link(link: str) -> RepoLink:
    """Split a repo-link into repository, ref and folder, refusing unsafe parts.

    >>> parse_link("https://gitee.com/mindspore/models/tree/r1.3/official/cv/alexnet")
    RepoLink(url='https://gitee.com/mindspore/models', ref='r1.3', folder='official/cv/alexnet')
    """
    link = link.strip().strip("<>")
    urls.check(link, "repo-link")
    match = _LINK.match(link)
    repo, ref, folder = (match.group("repo"), match.group("ref"), match.group("folder") or "") if match \
        else (link.rstrip("/"), None, "")
    if ref is not None and (not _REF.fullmatch(ref) or ".." in ref):
        raise HubError(f"repo-link {link!r}: ref {ref!r} is not a plain branch, tag or commit name")
    parts = [unquote(part) for part in folder.split("/")] if folder else []
    for part in parts:
        names.safe_component(part, f"folder {part!r} of repo-link")
    result = RepoLink(repo, ref, "/".join(parts))
    result.name  # checks the last component even for a link without a folder
    return result


def fetch_folder(link: RepoLink, dest: Path) -> str:
    """Fetch `link`'s folder into `dest` (replacing it); return the commit fetched."""
    if settings.offline():
        raise OfflineError(f"offline ({settings.OFFLINE}=1): not fetching code from {link.url}")
    if shutil.which("git") is None:
        raise HubError(f"git is needed to fetch code from {link.url}, and it is not on PATH")
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = dest.parent / f".fetch-{dest.name}-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    try:
        _git("init", "-q", str(work))
        _git("-C", str(work), "remote", "add", "origin", link.url)
        if link.folder:
            _git("-C", str(work), "sparse-checkout", "set", "--no-cone", "--", f"/{link.folder}/")
        _git("-C", str(work), "fetch", "-q", "--depth", "1", "--filter=blob:none", "origin",
             link.ref or "HEAD")
        _git("-C", str(work), "checkout", "-q", "--detach", "FETCH_HEAD")
        commit = _git("-C", str(work), "rev-parse", "FETCH_HEAD").strip()
        if link.ref and re.fullmatch(r"[0-9a-f]{40}", link.ref) and commit != link.ref:
            raise HubError(f"{link.url}: asked for commit {link.ref}, got {commit}")
        source = work / link.folder if link.folder else work
        if not source.is_dir():
            raise HubError(f"{link.url} at {link.ref or 'HEAD'} has no folder {link.folder!r}")
        shutil.rmtree(source / ".git", ignore_errors=True)
        (source / SOURCE_FILE).write_text(json.dumps(
            {"url": link.url, "ref": link.ref, "folder": link.folder, "commit": commit}))
        shutil.rmtree(dest, ignore_errors=True)
        os.replace(source, dest)
        return commit
    finally:
        shutil.rmtree(work, ignore_errors=True)


def fetched_commit(dest: Path) -> str | None:
    """The commit a folder was fetched at, or None when it was not fetched (completely)."""
    try:
        return json.loads((dest / SOURCE_FILE).read_text())["commit"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _git(*args: str) -> str:
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_CONFIG_NOSYSTEM="1")
    try:
        done = subprocess.run(["git", "-c", "advice.detachedHead=false", *args], capture_output=True,
                              text=True, env=env, timeout=GIT_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise HubError(f"git {args[-1]} took longer than {GIT_TIMEOUT} s") from None
    if done.returncode != 0:
        raise HubError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout
