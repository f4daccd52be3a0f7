"""Every environment variable that mindspore_hub reads, in one place.

Values are read at call time (not at import), so a test or a long-running
program can change them between calls. The README's "Environment variables" table
lists them.
"""

from __future__ import annotations

import os
from pathlib import Path

HUB_DIR = "MSHUB_DIR"
OFFLINE = "MSHUB_OFFLINE"
NO_PROGRESS = "MSHUB_NO_PROGRESS"
TIMEOUT = "MSHUB_TIMEOUT"
DOWNLOAD_TIMEOUT = "MSHUB_DOWNLOAD_TIMEOUT"
RETRIES = "MSHUB_RETRIES"
MAX_SIZE = "MSHUB_MAX_SIZE"
LOCK_TIMEOUT = "MSHUB_LOCK_TIMEOUT"
MIRRORS = "MSHUB_MIRRORS"
ALLOW_HTTP = "MSHUB_ALLOW_HTTP"
RES_DIRS = "MSHUB_RES_DIRS"
INDEX_URL = "MSHUB_INDEX_URL"
INDEX_REPO = "MSHUB_INDEX_REPO"
TRUST_REPO = "MSHUB_TRUST_REPO"
UPSTREAM_CACHE = "MSHUB_UPSTREAM_CACHE"

_TRUE = {"1", "true", "yes", "on"}


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


def _number(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number") from None
    if value < 0:
        raise ValueError(f"{name}={raw!r} must not be negative")
    return value


def hub_dir() -> Path:
    """MSHUB_DIR, else ``$XDG_CACHE_HOME/mindspore_hub`` (``~/.cache/mindspore_hub``); absolute.

    `manage.set_hub_dir` overrides this for the process.
    """
    raw = os.environ.get(HUB_DIR, "").strip()
    if raw:
        return Path(raw).expanduser().absolute()
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or os.path.join("~", ".cache")
    return Path(base).expanduser().absolute() / "mindspore_hub"


def offline() -> bool:
    """MSHUB_OFFLINE=1: never open a socket; use only what is cached or local."""
    return _flag(OFFLINE)


def progress_disabled() -> bool:
    """MSHUB_NO_PROGRESS=1: no progress bar even on a terminal."""
    return _flag(NO_PROGRESS)


def timeout() -> tuple[float, float]:
    """MSHUB_TIMEOUT='CONNECT[,READ]' in seconds (default 10,60): per connect and per read."""
    raw = os.environ.get(TIMEOUT, "").strip()
    if not raw:
        return (10.0, 60.0)
    try:
        parts = [float(part) for part in raw.split(",")]
    except ValueError:
        raise ValueError(f"{TIMEOUT}={raw!r} is not 'SECONDS' or 'CONNECT,READ'") from None
    if len(parts) not in (1, 2) or min(parts) <= 0:
        raise ValueError(f"{TIMEOUT}={raw!r} is not 'SECONDS' or 'CONNECT,READ' (positive)")
    return (parts[0], parts[-1])


def download_timeout() -> float:
    """MSHUB_DOWNLOAD_TIMEOUT: seconds one download may take in all, attempts and waits included (default 3600)."""
    value = _number(DOWNLOAD_TIMEOUT, 3600.0)
    if value <= 0:
        raise ValueError(f"{DOWNLOAD_TIMEOUT}={value} must be positive")
    return value


def retries() -> int:
    """MSHUB_RETRIES: attempts after one that failed without progress, in a row (default 5)."""
    return int(_number(RETRIES, 5))


def max_size() -> int:
    """MSHUB_MAX_SIZE: refuse a download larger than this many bytes (default 16 GiB)."""
    return int(_number(MAX_SIZE, 16 * 1024**3))


def lock_timeout() -> float:
    """MSHUB_LOCK_TIMEOUT: seconds to wait for another process's download.

    The default outlasts a holder's own deadline (MSHUB_DOWNLOAD_TIMEOUT) by a minute.
    """
    return _number(LOCK_TIMEOUT, download_timeout() + 60.0)


def mirrors() -> list[tuple[str, str]]:
    """MSHUB_MIRRORS='PREFIX=REPLACEMENT[,...]': asset links starting with PREFIX are rewritten."""
    pairs = []
    for item in os.environ.get(MIRRORS, "").split(","):
        if not item.strip():
            continue
        prefix, sep, replacement = item.partition("=")
        if not sep or not prefix.strip() or not replacement.strip():
            raise ValueError(f"{MIRRORS}: {item!r} is not PREFIX=REPLACEMENT")
        pairs.append((prefix.strip(), replacement.strip()))
    return pairs


def allow_http() -> bool:
    """MSHUB_ALLOW_HTTP=1: accept plain http to hosts other than loopback."""
    return _flag(ALLOW_HTTP)


def res_dirs() -> list[Path]:
    """MSHUB_RES_DIRS: extra local hub roots (os.pathsep-separated), searched first."""
    return [Path(item).expanduser() for item in os.environ.get(RES_DIRS, "").split(os.pathsep) if item]


def index_url() -> str | None:
    """MSHUB_INDEX_URL: template for a model's markdown, with {branch} and {uid}."""
    return os.environ.get(INDEX_URL, "").strip() or None


def index_repo() -> str | None:
    """MSHUB_INDEX_REPO: git repository whose mshub_res/assets `hub_list` lists."""
    return os.environ.get(INDEX_REPO, "").strip() or None


def trust_all_repos() -> bool:
    """MSHUB_TRUST_REPO=1: run code fetched from any repo-link without asking."""
    return _flag(TRUST_REPO)


def upstream_cache() -> Path | None:
    """MSHUB_UPSTREAM_CACHE: upstream mindspore_hub's cache, whose verified checkpoints are adopted
    (default ``~/.mscache``; empty: none)."""
    raw = os.environ.get(UPSTREAM_CACHE)
    if raw is None:
        return Path("~/.mscache").expanduser()
    return Path(raw.strip()).expanduser() if raw.strip() else None
