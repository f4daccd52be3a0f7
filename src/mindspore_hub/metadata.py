"""Hub metadata: a model's markdown file -> a typed, immutable `ModelInfo`.

A hub markdown file is a title line (``# name``), YAML front matter between the
first two lines that are exactly ``---``, then a free markdown body (which may
contain more ``---`` lines). This module only reads the structure; whether the
values are acceptable is the validator's business (`mindspore_hub.validate`),
so the loader and the validator agree on what a file says.

YAML is read with `yaml.SafeLoader`, but some values keep their source text:
version fields (``1.10`` must not become the float ``1.1``), dates and hashes.

Parsing is bounded, because metadata comes from the network and from other people's
repositories: a file is at most `MAX_BYTES`, YAML aliases are refused (``*name``: a
kilobyte of nested aliases expands to gigabytes once a value is printed or serialised),
nesting stops at `MAX_DEPTH` levels, and control characters, undecodable bytes and
every other unreadable input raise `MetadataError` naming the file and line.
"""

from __future__ import annotations

import datetime
import os
import re
from dataclasses import dataclass, field
from pathlib import PurePath
from types import MappingProxyType
from typing import Any, Mapping

import yaml

from . import names

__all__ = [
    "Asset",
    "MetadataError",
    "ModelInfo",
    "normalize_version",
    "parse_file",
    "parse_text",
]

DELIMITER = "---"
ASSET_FIELD = "asset"
MAX_BYTES = 1 << 20  # a hub markdown file is a few kilobytes
MAX_DEPTH = 32       # nesting levels of YAML collections

# A top-level ``key: -`` (``evaluation: -``, "none", on 162 of upstream's master cards) is not YAML (a
# sequence cannot start after a key on its line); upstream reads it on purpose, so it is read as the text "-".
_DASH_VALUE = re.compile(r"^([A-Za-z][A-Za-z0-9_-]*):[ \t]+-[ \t]*$")

# Values whose YAML reading would lose information (floats, dates, digit-only hashes).
_SOURCE_TEXT_FIELDS = frozenset({"model-version", "mindspore-version", "update-time", "asset-sha256"})


class MetadataError(ValueError):
    """A file whose structure cannot be read; `line` is 1-based, `field` may be None."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None,
                 field: str | None = None):
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line
        self.field = field

    def __str__(self) -> str:
        where = f"{self.path or '<text>'}:{self.line or 0}: "
        what = f"{self.field}: " if self.field else ""
        return f"{where}{what}{self.message}"


@dataclass(frozen=True)
class Asset:
    """One downloadable file of a model; missing values are empty strings."""

    file_format: str
    asset_link: str
    asset_sha256: str
    line: int
    fields: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}),
                                      compare=False, repr=False)
    field_lines: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}),
                                           compare=False, repr=False)

    @property
    def file_name(self) -> str:
        """The name the file is kept under, e.g. ``x.ckpt``: `names.url_file_name` of the link.

        Raises UnsafeNameError when the link is not an http(s) URL, its path could escape
        a directory (``..``, separators, an empty name), or the cache could not keep the name
        (too long, or named like a cache companion file), as the loader would refuse it.
        """
        return names.asset_file_name(self.asset_link, "asset-link")


@dataclass(frozen=True)
class ModelInfo:
    """What a hub markdown file says; `fields` and `field_lines` keep everything raw."""

    title: str
    model_name: str
    backbone_name: str | None
    module_type: str | None
    fine_tunable: bool | None
    model_version: str
    train_dataset: str | None
    author: str | None
    update_time: str
    repo_link: str | None
    user_id: str | None
    used_for: str | None
    train_backend: str | None
    infer_backend: str | None
    mindspore_version: str
    input_shape: Any
    accuracy: Any
    license: str | None
    summary: str | None
    assets: tuple[Asset, ...]
    fields: Mapping[str, Any]
    field_lines: Mapping[str, int]
    path: str | None
    language: str
    front_matter_line: int = 1
    duplicates: tuple[tuple[str, int, int], ...] = ()  # (field, first line, repeated line); the last value is kept

    @property
    def _layout(self) -> tuple[str, str | None, str, str] | None:
        return _asset_layout(self.path)

    @property
    def publisher(self) -> str | None:
        """``mindspore`` in ``.../assets/mindspore/ascend/1.3/x.md``."""
        return self._layout[0] if self._layout else None

    @property
    def backend(self) -> str | None:
        """``ascend`` in ``.../assets/mindspore/ascend/1.3/x.md``; None in the backend-less layout."""
        return self._layout[1] if self._layout else None

    @property
    def version(self) -> str | None:
        """The path's version directory, ``1.3`` in ``.../assets/mindspore/ascend/1.3/x.md``."""
        return self._layout[2] if self._layout else None

    @property
    def uid(self) -> str | None:
        """The name users pass to ``mshub.load``; the ``_cn`` variant shares its English uid."""
        layout = self._layout
        if layout is None:
            return None
        publisher, backend, version, name = layout
        return "/".join(part for part in (publisher, backend, version, name) if part)

    @property
    def normalized_mindspore_version(self) -> str:
        """``mindspore-version`` without a leading ``v`` (``v1.3`` -> ``1.3``)."""
        return normalize_version(self.mindspore_version)

    @property
    def normalized_model_version(self) -> str:
        """``model-version`` without a leading ``v``."""
        return normalize_version(self.model_version)


def normalize_version(version: str) -> str:
    """Drop one leading ``v``/``V``, so ``v1.3`` and ``1.3`` compare equal."""
    version = version.strip()
    return version[1:] if version[:1] in ("v", "V") else version


def _asset_layout(path: str | None) -> tuple[str, str | None, str, str] | None:
    """(publisher, backend or None, version, name) when `path` follows the assets layout."""
    if not path:
        return None
    parts = PurePath(os.fspath(path)).parts
    if "assets" not in parts or not parts[-1].endswith(".md"):
        return None
    last_assets = len(parts) - 1 - parts[::-1].index("assets")
    tail = parts[last_assets + 1:]
    name = tail[-1][: -len(".md")]
    if name.endswith("_cn"):
        name = name[: -len("_cn")]
    if len(tail) == 4:
        return tail[0], tail[1], tail[2], name
    if len(tail) == 3:
        return tail[0], None, tail[1], name
    return None


class _Loader(yaml.SafeLoader):
    """SafeLoader without aliases and with bounded nesting, kept separate from PyYAML's global state."""

    def __init__(self, stream: str):
        self._depth = 0
        super().__init__(stream)

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, f"found the alias *{event.anchor}: hub metadata may not use YAML aliases "
                "(they can expand without bound); write the value out", event.start_mark)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels",
                                                  self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _strip_link(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        if value.startswith("<") and value.endswith(">"):
            return value[1:-1].strip()
    return value


def _mapping_items(loader: _Loader, node: yaml.Node, where: str, path: str | None,
                   offset: int, duplicates: list[tuple[str, int, int]]) -> list[tuple[str, Any, int]]:
    """(key, normalised value, 1-based line) for each entry of a YAML mapping node.

    A key given twice is appended to `duplicates` as (key, first line, repeated line); the last
    value wins, as with PyYAML (and so upstream).
    """
    if not isinstance(node, yaml.MappingNode):
        if where == ASSET_FIELD:
            raise MetadataError("each entry must be a mapping (file-format, asset-link, asset-sha256)",
                                path, node.start_mark.line + offset, ASSET_FIELD)
        raise MetadataError("front matter must be a mapping of fields", path, node.start_mark.line + offset)
    items: list[tuple[str, Any, int]] = []
    seen: dict[str, int] = {}
    for key_node, value_node in node.value:
        line = key_node.start_mark.line + offset
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            raise MetadataError(f"field name {key!r} is not text", path, line, str(key))
        if key in seen:
            duplicates.append((key, seen[key], line))
            items = [item for item in items if item[0] != key]
        seen[key] = line
        try:
            value = loader.construct_object(value_node, deep=True)
        except ValueError as error:  # a YAML date that is no date (2023-13-45): PyYAML's own ValueError
            raise MetadataError(f"cannot be read: {error}", path, value_node.start_mark.line + offset,
                                key) from None
        keep_text = key in _SOURCE_TEXT_FIELDS or isinstance(value, (datetime.date, datetime.datetime))
        if keep_text and isinstance(value_node, yaml.ScalarNode) and value is not None:
            value = value_node.value
        if key.endswith("-link"):
            value = _strip_link(value)
        items.append((key, value, line))
    return items


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _parse_assets(loader: _Loader, node: yaml.Node | None, path: str | None, offset: int, line: int,
                  duplicates: list[tuple[str, int, int]]) -> tuple[tuple[Asset, ...], list[dict[str, Any]]]:
    if node is None or (isinstance(node, yaml.ScalarNode) and node.value == ""):
        return (), []
    if not isinstance(node, yaml.SequenceNode):
        raise MetadataError("must be a list of mappings (file-format, asset-link, asset-sha256)",
                            path, line, ASSET_FIELD)
    assets, raw = [], []
    for item in node.value:
        entries = _mapping_items(loader, item, ASSET_FIELD, path, offset, duplicates)
        values = {key: value for key, value, _ in entries}
        lines = {key: item_line for key, _, item_line in entries}
        assets.append(Asset(
            file_format=(_text(values.get("file-format")) or "").strip().lower(),
            asset_link=_text(values.get("asset-link")) or "",
            asset_sha256=(_text(values.get("asset-sha256")) or "").strip(),
            line=item.start_mark.line + offset,
            fields=MappingProxyType(values),
            field_lines=MappingProxyType(lines),
        ))
        raw.append(values)
    return tuple(assets), raw


def _split(text: str, path: str | None) -> tuple[str, list[str], int]:
    """(title, front-matter lines, 1-based line of the opening ``---``)."""
    lines = [line.rstrip("\r") for line in text.lstrip("\ufeff").split("\n")]
    marks = [number for number, line in enumerate(lines) if line.rstrip() == DELIMITER][:2]
    if not marks:
        raise MetadataError("no front matter: expected a line '---' after the title", path, 1)
    if len(marks) < 2:
        raise MetadataError("front matter is not closed by a second '---' line", path, marks[0] + 1)
    start, end = marks
    title = next((line[2:].strip() for line in lines[:start] if line.startswith("# ")), "")
    return title, [_DASH_VALUE.sub(r'\1: "-"', line) for line in lines[start + 1:end]], start + 1


def parse_text(text: str, path: str | None = None) -> ModelInfo:
    """Read a hub markdown document; `path` (if given) supplies publisher/backend/version/uid.

    >>> info = parse_text("# m\\n---\\nmindspore-version: 1.10\\n---\\n")
    >>> info.mindspore_version
    '1.10'
    """
    path = None if path is None else os.fspath(path)
    title, front, opening = _split(text, path)
    offset = opening + 1  # YAML line 0 is the line after the opening '---' (1-based: opening + 1)
    source = "\n".join(front) + "\n"
    try:
        loader = _Loader(source)
    except yaml.reader.ReaderError as error:
        line = source[:error.position].count("\n") + offset
        raise MetadataError(f"the front matter holds the control character {chr(error.character)!r} "
                            f"(U+{error.character:04X}), which YAML does not allow", path, line) from None
    try:
        root = loader.get_single_node()
        if root is None:
            raise MetadataError("front matter is empty", path, opening, None)
        duplicates: list[tuple[str, int, int]] = []
        entries = _mapping_items(loader, root, "front matter", path, offset, duplicates)
        asset_node = next((value for key, value in reversed(root.value)  # the last one, as for any field
                           if isinstance(key, yaml.ScalarNode) and key.value == ASSET_FIELD), None)
        values = {key: value for key, value, _ in entries}
        lines = {key: line for key, _, line in entries}
        assets, raw_assets = _parse_assets(loader, asset_node, path, offset, lines.get(ASSET_FIELD, opening),
                                           duplicates)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + offset if mark else opening
        raise MetadataError(f"invalid YAML: {error.problem or error.context}", path, line) from error
    except yaml.YAMLError as error:
        raise MetadataError(f"invalid YAML: {error}", path, opening) from error
    finally:
        loader.dispose()
    if ASSET_FIELD in values:
        values[ASSET_FIELD] = raw_assets
    return _model_info(title, values, lines, assets, path, opening, tuple(duplicates))


def _model_info(title: str, values: dict[str, Any], lines: dict[str, int], assets: tuple[Asset, ...],
                path: str | None, opening: int, duplicates: tuple[tuple[str, int, int], ...]) -> ModelInfo:
    def text(key: str) -> str | None:
        return _text(values.get(key))

    fine_tunable = values.get("fine-tunable")
    name = PurePath(path).name if path else ""
    return ModelInfo(
        title=title,
        model_name=text("model-name") or "",
        backbone_name=text("backbone-name"),
        module_type=text("module-type"),
        fine_tunable=fine_tunable if isinstance(fine_tunable, bool) else None,
        model_version=text("model-version") or "",
        train_dataset=text("train-dataset"),
        author=text("author"),
        update_time=text("update-time") or "",
        repo_link=text("repo-link"),
        user_id=text("user-id"),
        used_for=text("used-for"),
        train_backend=text("train-backend"),
        infer_backend=text("infer-backend"),
        mindspore_version=text("mindspore-version") or "",
        input_shape=values.get("input-shape"),
        accuracy=values.get("accuracy"),
        license=text("license"),
        summary=text("summary"),
        assets=assets,
        fields=MappingProxyType(values),
        field_lines=MappingProxyType(lines),
        path=path,
        language="cn" if re.search(r"_cn\.md$", name, re.IGNORECASE) else "en",
        front_matter_line=opening,
        duplicates=duplicates,
    )


def parse_file(path: str | os.PathLike[str]) -> ModelInfo:
    """Read and parse a hub markdown file (UTF-8, at most `MAX_BYTES`)."""
    path = os.fspath(path)
    with open(path, "rb") as handle:
        data = handle.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise MetadataError(f"larger than {MAX_BYTES} bytes; a hub markdown file is a few kilobytes", path, 1)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise MetadataError(f"not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start}); "
                            "save the file as UTF-8", path, line) from None
    return parse_text(text, path)
