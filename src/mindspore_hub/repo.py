"""Fetching one folder of a git repository, shallowly and pinned.

A metadata ``repo-link`` such as
``https://gitee.com/mindspore/mindspore/tree/r1.3/model_zoo/research/cv/ssd_resnet50`` names a
repository, a ref and a folder. `fetch_folder` asks git for that ref at depth 1 with a sparse
checkout of just that folder, records the commit it got, and moves the folder into place; later
loads reuse it until `force_reload`. Running the code is `code.py`'s business, after trust.

git is held to the loader's URL policy: redirects are not followed (``http.followRedirects=false``:
an https repository cannot send git to plain http elsewhere), only https is allowed (plain http
only for a URL the policy accepted as http: loopback, or MSHUB_ALLOW_HTTP=1), and symbolic links
in the repository are checked out as plain files (``core.symlinks=false``), so nothing fetched
can point a later write, or a read, outside the cache.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from . import names, safefile, settings, urls
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
    if "?" in link or "#" in link:
        raise HubError(f"repo-link {link!r} has a query or fragment ('?' or '#'); a repository link has neither")
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


def fetch_folder(link: RepoLink, dest: Path, root: Path) -> str:
    """Fetch `link`'s folder into `dest` (replacing it), inside the cache `root`; return the commit fetched."""
    if settings.offline():
        raise OfflineError(f"offline ({settings.OFFLINE}=1): not fetching code from {link.url}")
    if shutil.which("git") is None:
        raise HubError(f"git is needed to fetch code from {link.url}, and it is not on PATH")
    url = urls.mirrored(link.url, "repository")  # MSHUB_MIRRORS first, then the URL policy on the result
    policy = _policy(url)
    safefile.make_dirs(root, dest.parent)
    work = Path(tempfile.mkdtemp(dir=dest.parent, prefix=".fetch-"))  # new, never a link
    try:
        _git(policy, "init", "-q", str(work))
        _git(policy, "-C", str(work), "remote", "add", "origin", url)
        if link.folder:
            _git(policy, "-C", str(work), "sparse-checkout", "set", "--no-cone", "--", f"/{link.folder}/")
        _git(policy, "-C", str(work), "fetch", "-q", "--depth", "1", "--filter=blob:none", "origin",
             link.ref or "HEAD")
        _git(policy, "-C", str(work), "checkout", "-q", "--detach", "FETCH_HEAD")
        commit = _git(policy, "-C", str(work), "rev-parse", "FETCH_HEAD").strip()
        if link.ref and re.fullmatch(r"[0-9a-f]{40}", link.ref) and commit != link.ref:
            raise HubError(f"{url}: asked for commit {link.ref}, got {commit}")
        source = work / link.folder if link.folder else work
        try:
            found = safefile.check_dirs(work, source)
        except HubError:
            found = False
        if not found:
            raise HubError(f"{url} at {link.ref or 'HEAD'} has no folder {link.folder!r}")
        safefile.remove_tree(source / ".git")
        safefile.write_atomic(work, source / SOURCE_FILE, json.dumps(
            {"url": link.url, "ref": link.ref, "folder": link.folder, "commit": commit}))
        safefile.remove_tree(dest)
        os.replace(source, dest)
        return commit
    finally:
        shutil.rmtree(work, ignore_errors=True)


def list_branches(url: str, prefix: str, scratch: Path, root: Path) -> dict[str, list[str]]:
    """{branch: paths of the regular files under `prefix`} of every branch of the repository `url`.

    One shallow fetch of every branch head without file contents (``--filter=blob:none``: commits and
    trees only) into a scratch repository under `scratch` (inside the cache `root`), read with
    ``git ls-tree``; nothing is checked out, so no fetched name or link ever reaches the file system.
    """
    if settings.offline():
        raise OfflineError(f"offline ({settings.OFFLINE}=1): not listing the branches of {url}")
    if shutil.which("git") is None:
        raise HubError(f"git is needed to list {url}, and it is not on PATH")
    fetched = urls.mirrored(url, "repository")
    policy = _policy(fetched)
    safefile.make_dirs(root, scratch)
    work = Path(tempfile.mkdtemp(dir=scratch, prefix=".list-"))
    try:
        _git(policy, "init", "-q", "--bare", str(work))
        _git(policy, "-C", str(work), "fetch", "-q", "--depth", "1", "--filter=blob:none", fetched,
             "+refs/heads/*:refs/heads/*")
        heads = _git(policy, "-C", str(work), "for-each-ref", "--format=%(refname:short)", "refs/heads")
        listing = {}
        for branch in heads.split():
            out = _git(policy, "-C", str(work), "ls-tree", "-r", "-z", f"refs/heads/{branch}", "--",
                       prefix.rstrip("/") + "/")
            listing[branch] = [entry.split("\t", 1)[1] for entry in out.split("\0")
                               if entry.startswith("100644 blob ") or entry.startswith("100755 blob ")]
        return listing
    finally:
        shutil.rmtree(work, ignore_errors=True)


def fetched_commit(dest: Path) -> str | None:
    """The commit a folder was fetched at, or None when it was not fetched (completely)."""
    try:
        with safefile.open_read(dest / SOURCE_FILE) as handle:
            commit = json.loads(handle.read(64 * 1024))["commit"]
    except (OSError, ValueError, KeyError, TypeError, HubError):
        return None
    return commit if isinstance(commit, str) else None


def _policy(url: str) -> tuple[str, ...]:
    """git options that hold every transfer to `url`'s scheme, with no redirect and no link checked out."""
    options = {
        "advice.detachedHead": "false",
        "http.followRedirects": "false",
        "protocol.allow": "never",
        "protocol.https.allow": "always",
        "core.symlinks": "false",
        "core.hooksPath": os.devnull,
        "submodule.recurse": "false",
        "fetch.recurseSubmodules": "false",
    }
    if url.lower().startswith("http://"):  # already accepted by urls.check: loopback or MSHUB_ALLOW_HTTP
        options["protocol.http.allow"] = "always"
    return tuple(item for key, value in options.items() for item in ("-c", f"{key}={value}"))


def _git(policy: tuple[str, ...], *args: str) -> str:
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_CONFIG_NOSYSTEM="1", GIT_PROTOCOL_FROM_USER="0")
    try:
        done = subprocess.run(["git", *policy, *args], capture_output=True,
                              text=True, env=env, timeout=GIT_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise HubError(f"git {args[-1]} took longer than {GIT_TIMEOUT} s") from None
    if done.returncode != 0:
        raise HubError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout
