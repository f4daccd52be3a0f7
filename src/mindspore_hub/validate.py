"""Validate hub markdown files: one `Problem` per finding, exit status 1 on any error.

Upstream's validator exits 0 when files fail and stops at the first problem; this one
reports every problem as ``FILE:LINE: FIELD: message`` so CI can gate on it, and needs
neither the network (unless ``--check-links``) nor the model's code (unless ``--check-entry``).

Errors are what would break loading or contradicts upstream's own rules (its required fields,
value lists and types); checks stricter than upstream's (dates, text types, version formats,
agreement with the folder layout, a title, repeated assets) are warnings, errors with ``--strict``.
Upstream's real cards that it reads are not flagged: ``evaluation: -``, dates without zero padding
(``2023-2-17``), ``module-type`` split at its first ``-`` (``cv-super-resolution``), ``mm`` and
``cvtmodel``, no ``asset`` or ``train-dataset`` (optional in upstream's spec), and ``_cn.md`` files
with Chinese keys (upstream reads their English twin; so does this validator).

Run it as ``mshub validate PATH...`` or ``python -m mindspore_hub.validate PATH...``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import numbers
import os
import re
import sys
from dataclasses import asdict, dataclass, replace
from typing import Any, Callable, Iterable, Sequence

from . import code, names, repo, settings, urls
from .errors import HubError, OfflineError, UnsafeNameError, UntrustedRepoError
from .metadata import ASSET_FIELD, MetadataError, ModelInfo, normalize_version, parse_file

__all__ = [
    "InvalidMetadataError",
    "Problem",
    "add_arguments",
    "check_file",
    "entry_problems",
    "find_markdown",
    "link_problems",
    "main",
    "run",
    "validate_file",
    "validate_info",
    "validate_paths",
]

ERROR = "error"
WARNING = "warning"

# Allowed values, as used across upstream's mshub_res assets.
MODULE_TYPES = frozenset({"audio", "cv", "nlp", "recommend", "gnn", "rl", "hpc", "mm", "cvtmodel", "other"})
USED_FOR = frozenset({"inference", "extract-feature", "transfer-learning"})
BACKENDS = frozenset({"ascend", "gpu", "cpu"})
FILE_EXTENSIONS = {"ckpt": ".ckpt", "mindir": ".mindir", "air": ".air", "onnx": ".onnx", "mslite": ".ms"}

# asset and train-dataset are optional in upstream's spec (examples/commit_example.md).
CURRENT_REQUIRED = (
    "model-name", "backbone-name", "module-type", "fine-tunable", "model-version",
    "author", "update-time", "repo-link", "user-id", "used-for", "mindspore-version",
    "license", "summary",
)
# Files under assets/<publisher>/<backend>/<version ≤ 1.3>/ also had to declare these.
R13_REQUIRED = CURRENT_REQUIRED + ("input-shape", "infer-backend")
R13_LAST_VERSION = (1, 3)
OPTIONAL = ("input-shape", "infer-backend", "train-backend", "accuracy", "evaluation",
            "featured-image", "allow-cache-ckpt", "train-dataset", ASSET_FIELD)
KNOWN_FIELDS = frozenset(R13_REQUIRED + OPTIONAL)
ASSET_REQUIRED = ("file-format", "asset-link", "asset-sha256")
TEXT_FIELDS = ("model-name", "backbone-name", "train-dataset", "author", "user-id", "license", "summary")
BOOLEAN_FIELDS = ("fine-tunable", "allow-cache-ckpt")
VERSION_FIELDS = ("model-version", "mindspore-version")

_VERSION = re.compile(r"[vV]?\d+(\.\d+)*")
_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")  # YAML's date, zero padding optional as upstream's cards write it
_SKIPPED_NAMES = re.compile(r"(readme|changelog|contributing|license|code_of_conduct)([._-].*)?\.md",
                            re.IGNORECASE)


@dataclass(frozen=True)
class Problem:
    """One finding; `str()` gives ``FILE:LINE: FIELD: message``."""

    path: str
    line: int
    field: str
    message: str
    severity: str = ERROR

    def __str__(self) -> str:
        prefix = "warning: " if self.severity == WARNING else ""
        return f"{self.path}:{self.line}: {self.field}: {prefix}{self.message}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Findings:
    """Collects problems about one parsed file, locating each at its field's line."""

    def __init__(self, info: ModelInfo, path: str):
        self.info = info
        self.path = path
        self.problems: list[Problem] = []

    def line(self, field: str) -> int:
        return self.info.field_lines.get(field, self.info.front_matter_line)

    def add(self, field: str, message: str, line: int | None = None, severity: str = ERROR) -> None:
        self.problems.append(Problem(self.path, line or self.line(field), field, message, severity))

    def present(self, field: str) -> Any:
        """The field's value, or None when it is absent or empty (required checks report those)."""
        value = self.info.fields.get(field)
        return None if value is None or value == "" else value


def version_tuple(text: str | None) -> tuple[int, ...] | None:
    """``"1.10"`` -> ``(1, 10)``; None when it is not a dotted version."""
    if not isinstance(text, str) or not _VERSION.fullmatch(text.strip()):
        return None
    return tuple(int(part) for part in normalize_version(text).split("."))


def schema_era(info: ModelInfo) -> str:
    """``"r1.3"`` for the assets/<publisher>/<backend>/<version ≤ 1.3>/ layout, else ``"current"``."""
    version = version_tuple(info.version)
    if info.backend is not None and version is not None and version <= R13_LAST_VERSION:
        return "r1.3"
    return "current"


def _check_title(found: _Findings) -> None:
    if not found.info.title:
        found.add("title", "missing '# <name>' title line before the front matter", line=1, severity=WARNING)


def _check_duplicates(found: _Findings) -> None:
    for field, first, line in found.info.duplicates:
        found.add(field, f"duplicate field (first on line {first}); the loader uses this last value", line=line)


def _check_required(found: _Findings) -> None:
    era = schema_era(found.info)
    for field in R13_REQUIRED if era == "r1.3" else CURRENT_REQUIRED:
        if field not in found.info.fields:
            found.add(field, f"required field is missing ({era} schema)")
        elif found.present(field) is None:
            found.add(field, "required field is empty")


def _check_unknown(found: _Findings) -> None:
    for field in found.info.fields:
        if field not in KNOWN_FIELDS:
            found.add(field, "unknown field", severity=WARNING)


def _check_text(found: _Findings) -> None:
    for field in TEXT_FIELDS:
        value = found.present(field)
        if value is not None and not isinstance(value, str):
            found.add(field, f"should be text, got {value!r}", severity=WARNING)


def _check_booleans(found: _Findings) -> None:
    for field in BOOLEAN_FIELDS:
        value = found.present(field)
        if value is not None and not isinstance(value, bool):
            found.add(field, f"must be True or False, got {value!r}")


def _check_versions(found: _Findings) -> None:
    for field in VERSION_FIELDS:
        value = found.present(field)
        if value is not None and version_tuple(value) is None:
            found.add(field, f"should be a version like 1.3 or v1.3, got {value!r}", severity=WARNING)


def _check_update_time(found: _Findings) -> None:
    value = found.present("update-time")
    if value is None:
        return
    match = _DATE.fullmatch(str(value).strip())
    try:
        if match is None:
            raise ValueError
        datetime.date(*map(int, match.groups()))
    except ValueError:
        found.add("update-time", f"should be a date YYYY-MM-DD, got {value!r}", severity=WARNING)


def _check_numbers(found: _Findings) -> None:
    accuracy = found.present("accuracy")
    if accuracy is not None and (isinstance(accuracy, bool) or not isinstance(accuracy, numbers.Number)):
        found.add("accuracy", f"must be a number, got {accuracy!r}")
    shape = found.present("input-shape")
    if shape is not None and not _is_shape(shape):
        found.add("input-shape", f"must be a list of integers (or of such lists), got {shape!r}")


def _is_shape(value: Any) -> bool:
    if not isinstance(value, list) or not value:
        return False
    return all((isinstance(item, int) and not isinstance(item, bool)) or _is_shape(item) for item in value)


def _choices(found: _Findings, field: str, allowed: Iterable[str], separator: str | None) -> None:
    value = found.present(field)
    if value is None:
        return
    parts = str(value).split(separator) if separator else [str(value)]
    wrong = [part for part in parts if part.strip().lower() not in allowed]
    if wrong:
        found.add(field, f"{', '.join(map(repr, wrong))} not allowed; choose from {', '.join(sorted(allowed))}")


def _check_choices(found: _Findings) -> None:
    _choices(found, "used-for", USED_FOR, "/")
    _choices(found, "train-backend", BACKENDS, "/")
    _choices(found, "infer-backend", BACKENDS, "/")
    module_type = found.present("module-type")
    if module_type is not None:
        kind = str(module_type).lower().split("-", 1)[0]  # upstream splits at the first '-'
        if kind not in MODULE_TYPES:
            found.add("module-type", f"{module_type!r} must be TYPE or TYPE-detail with TYPE one of "
                                     f"{', '.join(sorted(MODULE_TYPES))}")


def _link_problem(link: Any, field: str) -> str | None:
    """Why a link may not be published: it must be an https URL (`urls.check`'s published rule).

    The loader also fetches plain http from loopback hosts or with MSHUB_ALLOW_HTTP=1; those are
    local allowances, never acceptable in a published file.
    """
    if not isinstance(link, str):
        return f"must be a link, got {link!r}"
    try:
        urls.check(link, field, published=True)
    except HubError as error:
        return str(error)
    return None


def _check_repo_link(found: _Findings) -> None:
    link = found.present("repo-link")
    if link is None:
        return
    message = _link_problem(link, "repo-link")
    if message is None:
        try:
            repo.parse_link(link)  # the loader's reading: ref and folder names must be safe
        except HubError as error:
            message = str(error)
    if message:
        found.add("repo-link", message)


def _check_assets(found: _Findings) -> None:
    if ASSET_FIELD not in found.info.fields:
        found.add(ASSET_FIELD, "no asset: the model loads only with pretrained=False", severity=WARNING)
    elif found.present(ASSET_FIELD) is not None and not found.info.assets:
        found.add(ASSET_FIELD, "must list at least one asset")
    first_seen: dict[tuple[str, str], int] = {}
    for asset in found.info.assets:
        def line(field: str) -> int:
            return asset.field_lines.get(field, asset.line)

        for field in ASSET_REQUIRED:
            if asset.fields.get(field) in (None, ""):
                found.add(field, "required in every asset", line=asset.line)
        for field in asset.fields:
            if field not in ASSET_REQUIRED:
                found.add(field, "unknown asset field", line=line(field), severity=WARNING)
        extension = FILE_EXTENSIONS.get(asset.file_format)
        if asset.file_format and extension is None:
            found.add("file-format", f"{asset.file_format!r} not allowed; choose from "
                                     f"{', '.join(sorted(FILE_EXTENSIONS))}", line=line("file-format"))
        if asset.asset_sha256 and not names.is_sha256(asset.asset_sha256.lower()):
            found.add("asset-sha256", f"must be exactly 64 hexadecimal characters, got "
                                      f"{len(asset.asset_sha256)}: {asset.asset_sha256!r}",
                      line=line("asset-sha256"))
        if asset.asset_link:
            _check_asset_link(found, asset, extension, line("asset-link"))
        for field, value in (("asset-link", asset.asset_link), ("asset-sha256", asset.asset_sha256)):
            if not value:
                continue
            if (field, value) in first_seen:
                found.add(field, f"duplicate asset (same {field} as the asset on line "
                                 f"{first_seen[field, value]})", line=line(field), severity=WARNING)
            else:
                first_seen[field, value] = asset.line


def _check_asset_link(found: _Findings, asset, extension: str | None, line: int) -> None:
    """An https link whose file name the loader accepts, with the extension of its file-format."""
    message = _link_problem(asset.asset_link, "asset-link")
    if message is None:
        try:
            file_name = asset.file_name
        except UnsafeNameError as error:
            message = str(error)
        else:
            if extension and not file_name.lower().endswith(extension):
                message = (f"file {file_name!r} does not end with {extension!r} "
                           f"as file-format {asset.file_format!r} requires")
    if message:
        found.add("asset-link", message, line=line)


def _check_path(found: _Findings) -> None:
    info = found.info
    if info.version is None:
        found.add("path", "not under assets/<publisher>/[<backend>/]<version>/<name>.md; "
                          "path checks skipped", line=1, severity=WARNING)
        return
    user_id = found.present("user-id")
    if isinstance(user_id, str) and user_id.lower() != info.publisher:
        found.add("user-id", f"{user_id!r} does not match the publisher directory {info.publisher!r}",
                  severity=WARNING)
    if version_tuple(info.version) is None:
        found.add("path", f"version directory {info.version!r} is not a version like 1.3", line=1, severity=WARNING)
    else:
        version = found.present("mindspore-version")
        if isinstance(version, str) and normalize_version(version) != normalize_version(info.version):
            found.add("mindspore-version", f"{version!r} does not match the version directory "
                                           f"{info.version!r}", severity=WARNING)
    if info.backend is not None:
        field = "train-backend" if found.present("train-backend") is not None else "infer-backend"
        declared = found.present(field)
        if declared is not None and info.backend.lower() not in str(declared).lower().split("/"):
            found.add(field, f"{declared!r} does not include the backend directory {info.backend!r}",
                      severity=WARNING)


RULES: tuple[Callable[[_Findings], None], ...] = (
    _check_title, _check_duplicates, _check_required, _check_unknown, _check_text, _check_booleans, _check_versions,
    _check_update_time, _check_numbers, _check_choices, _check_repo_link, _check_assets, _check_path,
)


def validate_info(info: ModelInfo, path: str | None = None) -> list[Problem]:
    """Apply every offline rule to a parsed file."""
    found = _Findings(info, path or info.path or "<text>")
    for rule in RULES:
        rule(found)
    return found.problems


class InvalidMetadataError(HubError, ValueError):
    """A markdown file with at least one error; `problems` lists every finding (a ValueError, as upstream's)."""

    def __init__(self, path: str, problems: list[Problem]):
        self.path, self.problems = path, problems
        errors = [problem for problem in problems if problem.severity == ERROR]
        super().__init__(f"{path}: {len(errors)} error(s) in the hub metadata:\n"
                         + "\n".join(f"  {problem}" for problem in errors))


def check_file(path: str | os.PathLike[str]) -> ModelInfo:
    """The parsed file when it has no error (warnings allowed); `InvalidMetadataError` otherwise.

    What upstream's ``CellInfo(md)`` and ``ValidMarkdown(md).check_markdown_file()`` do: read and
    refuse a file that is broken.
    """
    path = os.fspath(path)
    twin = names.english_twin(path)
    if twin is not None and os.path.isfile(twin):
        path = twin  # upstream reads a Chinese card through its English twin
    try:
        info = parse_file(path)
    except MetadataError as error:
        raise InvalidMetadataError(path, [Problem(path, error.line or 1, error.field or "front-matter",
                                                  error.message)]) from None
    problems = validate_info(info, path)
    if any(problem.severity == ERROR for problem in problems):
        raise InvalidMetadataError(path, problems)
    return info


def _head(url: str, timeout: float) -> int:
    """HTTP status of `url`; servers that refuse HEAD get a streamed GET instead.

    Redirects are followed by hand, each hop held to the loader's URL policy, so a link that
    redirects where the loader would not go (plain http elsewhere, file://...) is reported, not followed.
    """
    import requests  # only needed with --check-links

    from .download import open_url

    with requests.Session() as session:
        with open_url(session, url, method="HEAD", timeout=timeout) as response:
            if response.status_code not in (405, 501):
                return response.status_code
        with open_url(session, url, timeout=timeout) as response:
            return response.status_code


def link_problems(info: ModelInfo, path: str, timeout: float = 10.0) -> list[Problem]:
    """Ask every link (repo-link and assets) whether it exists; errors for non-2xx/3xx answers.

    Each link first passes the loader's URL policy (`urls.check`); one it refuses is reported,
    not requested. Offline (MSHUB_OFFLINE=1) this raises OfflineError: it needs the network.
    """
    if settings.offline():
        raise OfflineError(f"--check-links needs the network, and {settings.OFFLINE}=1 is set; "
                           f"unset {settings.OFFLINE} or leave out --check-links")
    found = _Findings(info, path)
    links = [("repo-link", info.repo_link, found.line("repo-link"))]
    links += [("asset-link", asset.asset_link, asset.field_lines.get("asset-link", asset.line))
              for asset in info.assets]
    for field, link, line in links:
        if not link:
            continue
        try:
            urls.check(link, field)
        except HubError as error:
            found.add(field, f"not checked: {error}", line=line)
            continue
        try:
            status = _head(link, timeout)
        except HubError as error:  # a redirect the policy refuses
            found.add(field, f"{link}: {error}", line=line)
            continue
        except Exception as error:  # any transport failure is a finding, not a crash
            found.add(field, f"cannot reach {link}: {error}", line=line)
            continue
        if not 200 <= status < 400:
            found.add(field, f"{link} answered HTTP {status}", line=line)
    return found.problems


def entry_problems(info: ModelInfo, path: str) -> list[Problem]:
    """Build the network as the loader would, without weights: ``create_network(model-name)``.

    The entry is found as `mshub.load` finds it (installed, then ``hub_conf.py`` beside the file),
    but code from a ``repo-link`` is never fetched or run here: such an entry gets a warning that
    it was not checked.
    """
    found = _Findings(info, path)
    if not info.model_name:
        return found.problems  # the required-field rule already reports it
    try:
        entry = code.find_entry(info, trust_repo=False)
    except UntrustedRepoError:
        found.add("repo-link", f"entry not checked: untrusted (its code would come from {info.repo_link}, "
                               "and the validator never runs remote code)", severity=WARNING)
        return found.problems
    except HubError as error:
        found.add("model-name", str(error))
        return found.problems
    try:
        entry.create(info.model_name)
    except HubError as error:  # no create_network, or it did not return an nn.Cell
        found.add("model-name", str(error))
    except Exception as error:  # the entry's own failure is what we report
        found.add("model-name", f"create_network of {entry.origin} failed: {type(error).__name__}: {error}")
    return found.problems


def validate_file(path: str | os.PathLike[str], *, check_links: bool = False,
                  check_entry: bool = False, timeout: float = 10.0) -> list[Problem]:
    """All problems of one file; a file that cannot be parsed gives one problem.

    A Chinese card (``x_cn.md``) beside its English twin ``x.md`` gives none: upstream and the loader
    read the twin, which is checked as a file of its own.
    """
    path = os.fspath(path)
    twin = names.english_twin(path)
    if twin is not None and os.path.isfile(twin):
        return []
    try:
        info = parse_file(path)
    except MetadataError as error:
        return [Problem(path, error.line or 1, error.field or "front-matter", error.message)]
    except OSError as error:
        return [Problem(path, 1, "file", f"cannot read: {error}")]
    except Exception as error:  # one unreadable file is a finding; the others are still checked
        return [Problem(path, 1, "file", f"cannot be read as hub metadata: {type(error).__name__}: {error}")]
    problems = validate_info(info, path)
    if check_links:
        problems += link_problems(info, path, timeout)
    if check_entry:
        problems += entry_problems(info, path)
    return sorted(problems, key=lambda problem: problem.line)


def find_markdown(paths: Iterable[str | os.PathLike[str]]) -> list[str]:
    """Files named explicitly, plus every ``*.md`` under directories (README-like files skipped).

    Raises FileNotFoundError for a path that does not exist.
    """
    files: list[str] = []
    for path in map(os.fspath, paths):
        if os.path.isfile(path):
            files.append(path)
        elif os.path.isdir(path):
            for root, dirs, file_names in os.walk(path):
                dirs[:] = sorted(name for name in dirs if not name.startswith("."))
                files += [os.path.join(root, name) for name in sorted(file_names)
                          if name.endswith(".md") and not _SKIPPED_NAMES.fullmatch(name)]
        else:
            raise FileNotFoundError(f"no such file or directory: {path}")
    return files


def validate_paths(paths: Iterable[str | os.PathLike[str]], **options: Any) -> list[Problem]:
    """Problems of every metadata file found under `paths` (see `find_markdown`)."""
    problems: list[Problem] = []
    for path in find_markdown(paths):
        problems += validate_file(path, **options)
    return problems


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``mshub validate``."""
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="markdown files or directories (searched recursively for *.md)")
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="one 'FILE:LINE: FIELD: message' line a problem, or one JSON document")
    parser.add_argument("--check-links", action="store_true",
                        help="also send HEAD requests to every link (network; refused when MSHUB_OFFLINE=1)")
    parser.add_argument("--check-entry", action="store_true",
                        help="also build each network as the loader would, without weights "
                             "(code from a repo-link is never run)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per link request (default 10)")
    parser.add_argument("--strict", action="store_true",
                        help="count warnings (checks stricter than upstream's rules) as errors")


def run(args: argparse.Namespace) -> int:
    """Validate `args.paths`; 0 when no file has an error, 1 otherwise, 2 on usage errors
    (including --check-links while offline)."""
    try:
        files = find_markdown(args.paths)
    except FileNotFoundError as error:
        print(f"mshub validate: error: {names.printable(error)}", file=sys.stderr)
        return 2
    if not files:
        print("mshub validate: error: no markdown files found", file=sys.stderr)
        return 2
    problems: list[Problem] = []
    try:
        for path in files:
            problems += validate_file(path, check_links=args.check_links, check_entry=args.check_entry,
                                      timeout=args.timeout)
    except OfflineError as error:
        print(f"mshub validate: error: {names.printable(error)}", file=sys.stderr)
        return 2
    if getattr(args, "strict", False):
        problems = [replace(problem, severity=ERROR) for problem in problems]
    errors = sum(problem.severity == ERROR for problem in problems)
    summary = {"files": len(files), "errors": errors, "warnings": len(problems) - errors, "ok": errors == 0}
    if args.format == "json":
        json.dump({"problems": [problem.to_dict() for problem in problems], "summary": summary},
                  sys.stdout, indent=2)
        print()
    else:
        for problem in problems:
            print(names.printable(problem))  # file names and values may hold newlines or escapes
        print(f"{summary['files']} file(s) checked: {errors} error(s), {summary['warnings']} warning(s)")
    return 0 if errors == 0 else 1


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m mindspore_hub.validate PATH...``"""
    parser = argparse.ArgumentParser(prog="python -m mindspore_hub.validate",
                                     description="Validate MindSpore Hub markdown metadata.")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
