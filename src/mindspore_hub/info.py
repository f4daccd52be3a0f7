"""A model's metadata: `info` (our `ModelInfo`) and upstream's `CellInfo` on top of it.

``from mindspore_hub.info import CellInfo`` works as with upstream, and ``mshub.info(uid)``
stays the function: the package imports it from here, as it imports `load` from ``load.py``.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from . import index, names
from .metadata import ModelInfo

__all__ = ["CellInfo", "info"]

log = logging.getLogger(__name__)


def info(name: str | os.PathLike[str], source: str | None = None, force_reload: bool = False) -> ModelInfo:
    """The parsed metadata (`ModelInfo`) of a uid, a URL to a .md, or a local .md path."""
    names.check_flags(force_reload=force_reload)
    meta = index.lookup(names.parse(name, source), source, force_reload)
    for field, first, line in meta.duplicates:
        log.warning("%s:%d: %s repeats the field of line %d; using the last value, as upstream does",
                    names.printable(meta.path), line, names.printable(field), first)
    return meta


class CellInfo:
    """Upstream's view of one markdown file, attribute for attribute, built on `ModelInfo`.

    ``CellInfo(md_path)`` reads and validates the file as upstream does: a file with an error
    (`mindspore_hub.validate`'s errors; warnings do not count) raises `validate.InvalidMetadataError`,
    a ValueError. `model_info` is the `ModelInfo` it was read into.
    """

    def __init__(self, md_path: str | os.PathLike[str] | None = None):
        self.model_info: ModelInfo | None = None
        self.asset_id = 0
        self.have_cache = False
        self.ckpt_path = None
        self.tags = None
        self.img = None
        self.path = None
        if md_path is not None:
            self.update(md_path)

    def update(self, md_path: str | os.PathLike[str]) -> None:
        """Read `md_path` (validated) into this object."""
        from .validate import check_file

        meta = check_file(md_path)
        fields = meta.fields
        self.model_info = meta
        self.path = meta.path
        self.name = meta.model_name
        self.backbone_name = meta.backbone_name
        self.type = meta.module_type
        self.fine_tunable = meta.fine_tunable
        self.input_shape = meta.input_shape
        self.author = meta.author
        self.update_time = meta.update_time
        self.repo_link = meta.repo_link
        self.user_id = meta.user_id
        self.backend = fields.get("backend") or meta.infer_backend or meta.train_backend
        self.allow_cache_ckpt = bool(fields.get("allow-cache-ckpt", False))
        self.dataset = meta.train_dataset
        self.license = meta.license
        self.accuracy = meta.accuracy
        self.evaluation = fields.get("evaluation")
        self.used_for = meta.used_for
        self.model_version = meta.model_version
        self.mindspore_version = meta.mindspore_version
        self.summary = meta.summary
        # upstream: a list of dicts with file-format, asset-link, asset-sha256
        self.asset: list[dict[str, Any]] = [dict(asset.fields) for asset in meta.assets]

    def __repr__(self) -> str:
        return f"CellInfo({self.path!r})"
