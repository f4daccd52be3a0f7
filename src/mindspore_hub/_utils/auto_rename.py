"""Upstream's ``auto_rename``: a checkpoint copied under the name its markdown file gives it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .. import hashes
from ..info import info
from ..load import checkpoint_asset


def auto_rename(source_file_path: str | os.PathLike[str], save_path: str | os.PathLike[str],
                md_path: str | os.PathLike[str]) -> str:
    """Copy the checkpoint into `save_path` under the asset's file name; ValueError if its sha256 differs.

    The file must be the one the markdown names (its sha256 is checked first): a checkpoint is never
    given another model's name.
    """
    asset = checkpoint_asset(info(md_path, source="local"))
    actual = hashes.file_sha256(Path(source_file_path))
    if actual != asset.asset_sha256.lower():
        raise ValueError(f"{source_file_path} has sha256 {actual}, not the {asset.asset_sha256} that {md_path} names")
    target = Path(save_path) / asset.file_name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source_file_path, target)
    return str(target)
