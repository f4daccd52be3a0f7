"""Upstream's ``ValidMarkdown``: validate one hub markdown file, through `mindspore_hub.validate`."""

from __future__ import annotations

import os
from typing import Any

from ..validate import check_file


class ValidMarkdown:
    """``ValidMarkdown(md_path).check_markdown_file()`` -> the front matter's fields, or ValueError."""

    def __init__(self, md_path: str | os.PathLike[str]):
        self.md_path = os.fspath(md_path)

    def check_markdown_file(self) -> dict[str, Any]:
        """The fields of a file without errors; `validate.InvalidMetadataError` (a ValueError) naming each error."""
        return dict(check_file(self.md_path).fields)
