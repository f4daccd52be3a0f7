"""Whose code the user agreed to run: never decided silently.

A repository is trusted for one call by ``trust_repo=True`` (which also remembers it),
for every call by MSHUB_TRUST_REPO=1, or persistently by a line in
``<hub dir>/trusted_repos.txt`` (one repository URL a line; ``#`` starts a comment).
"""

from __future__ import annotations

from pathlib import Path

from . import manage, settings
from .errors import UntrustedRepoError


def trusted_file() -> Path:
    return Path(manage.get_hub_dir()) / "trusted_repos.txt"


def trusted_repos() -> set[str]:
    """The repositories listed in the trusted file."""
    try:
        lines = trusted_file().read_text(encoding="utf-8").splitlines()
    except OSError:
        return set()
    return {line.split("#", 1)[0].strip() for line in lines} - {""}


def remember(repo_url: str) -> None:
    """Add `repo_url` to the trusted file."""
    if repo_url in trusted_repos():
        return
    path = trusted_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(repo_url + "\n")


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
        f"(it is then remembered in {trusted_file()}), add the repository URL on a line of that file, "
        f"or set {settings.TRUST_REPO}=1 to trust every repository.")
