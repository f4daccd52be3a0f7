"""Where the hub keeps its cache (upstream's ``mindspore_hub.manage``).

Order: `set_hub_dir` if called, else MSHUB_DIR, else ``$XDG_CACHE_HOME/mindspore_hub``
(``~/.cache/mindspore_hub``). It is not upstream's ``~/.mscache`` on purpose: upstream keeps
files that failed their hash there, and this cache must only hold verified files.
"""

from __future__ import annotations

import os
from pathlib import Path

from . import settings

_hub_dir: Path | None = None


def set_hub_dir(dir_path: str | os.PathLike[str] | None = None) -> None:
    """Use `dir_path` as the cache from now on; None goes back to MSHUB_DIR or the default."""
    global _hub_dir
    _hub_dir = None if dir_path is None else Path(dir_path).expanduser().absolute()


def get_hub_dir() -> str:
    """The cache directory (absolute; it may not exist yet)."""
    return str(_hub_dir if _hub_dir is not None else settings.hub_dir())
