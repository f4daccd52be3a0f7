"""Where the hub keeps its cache (upstream's ``mindspore_hub.manage``).

Order: `set_hub_dir` if called, else MSHUB_DIR, else ``$XDG_CACHE_HOME/mindspore_hub``
(``~/.cache/mindspore_hub``). It is not upstream's ``~/.mscache`` on purpose: upstream keeps
files that failed their hash there, and this cache must only hold verified files (a checkpoint
found there is adopted only after its sha256 matched, see `cache.fetch`).

``manage.CACHE_DIR``, upstream's name, reads the current cache directory; code written for
upstream that assigns it (``manage.CACHE_DIR = "/data/hub"``) moves the cache as `set_hub_dir` does.
"""

from __future__ import annotations

import os
from pathlib import Path

from . import settings

_hub_dir: Path | None = None


def set_hub_dir(dir_path: str | os.PathLike[str] | None = None) -> None:
    """Use `dir_path` as the cache from now on; None goes back to MSHUB_DIR or the default."""
    global _hub_dir
    globals().pop("CACHE_DIR", None)  # an upstream-style assignment is replaced by this call
    _hub_dir = None if dir_path is None else Path(dir_path).expanduser().absolute()


def get_hub_dir() -> str:
    """The cache directory (absolute; it may not exist yet)."""
    assigned = globals().get("CACHE_DIR")
    if assigned is not None:
        return str(Path(os.fspath(assigned)).expanduser().absolute())
    return str(_hub_dir if _hub_dir is not None else settings.hub_dir())


def __getattr__(name: str):
    if name == "CACHE_DIR":  # upstream's module variable, always current here
        return get_hub_dir()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
