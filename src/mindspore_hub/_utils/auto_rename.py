"""Upstream's ``auto_rename``: a checkpoint copied under the name its markdown file gives it."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from .. import hashes
from ..info import info
from ..load import checkpoint_asset


def auto_rename(source_file_path: str | os.PathLike[str], save_path: str | os.PathLike[str],
                md_path: str | os.PathLike[str]) -> str:
    """Copy the checkpoint into `save_path` under the asset's file name; ValueError if its sha256 differs.

    The file must be the one the markdown names: the copy itself is hashed before it takes the name
    (a file changed while it was read is never given another model's name), and a link at the target
    is replaced, not written through.
    """
    asset = checkpoint_asset(info(md_path, source="local"))
    target = Path(save_path) / asset.file_name
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".auto_rename-", suffix=".tmp")
    try:
        with open(source_file_path, "rb") as source, os.fdopen(handle, "wb") as copy:
            shutil.copyfileobj(source, copy)
        actual = hashes.file_sha256(Path(temporary))
        if actual != asset.asset_sha256.lower():
            raise ValueError(f"{source_file_path} has sha256 {actual}, not the {asset.asset_sha256} that "
                             f"{md_path} names")
        os.replace(temporary, target)
    finally:
        Path(temporary).unlink(missing_ok=True)
    return str(target)
