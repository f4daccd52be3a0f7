"""Finding a model's entry (its ``create_network``) and importing it in isolation.

In order: (a) an installed entry point of group ``mindspore_hub.entries`` named like the
metadata's model-name, if it serves the card (`_serves`: the repo-link folders it declares);
(b) a local folder holding ``hub_conf.py`` or ``mindspore_hub_conf.py``: the folder of a local
markdown file, or upstream's local layout ``<its folder>/<last name of repo-link>/``; (c) the
folder named by the markdown's ``repo-link``, fetched by `repo.fetch_folder` only after the user
trusted that repository.

A folder entry is imported under a private package ``mindspore_hub._entries.<key>``: while
its ``create_network`` runs, imports of its own top-level names (``src``, ``hub_conf``, ...)
resolve inside the folder, whatever ``sys.modules`` already held. Afterwards ``sys.path`` is
as before and those names are gone from ``sys.modules`` again, so two entries that both ship a
``src`` package load in one process. The entry's modules stay registered under their private
names, because MindSpore's graph compiler imports a function's ``__module__`` by name. Limits:
names of the standard library and of packages already imported from site-packages are never
redirected (see `_local_names`), and an import the entry's code makes after ``create_network``
has returned (inside ``construct``, say) is not redirected either.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.abc
import importlib.metadata
import importlib.util
import logging
import os
import sys
import sysconfig
import types
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import cache, index, names, repo, settings, trust
from .errors import HubError, OfflineError

log = logging.getLogger(__name__)

ENTRY_GROUP = "mindspore_hub.entries"
ENTRY_FILES = ("hub_conf.py", "mindspore_hub_conf.py")
ENTRY_FUNCTION = "create_network"
PRIVATE = "mindspore_hub._entries"


@dataclass(frozen=True)
class Entry:
    """Where a network comes from: an installed callable, or a folder holding an entry file."""

    origin: str
    factory: Callable | None = None
    folder: Path | None = None

    def create(self, model_name: str, *args, **kwargs):
        """The network: ``create_network(model_name.lower(), *args, **kwargs)``, which must be an nn.Cell."""
        from mindspore import nn

        name = model_name.lower()
        if self.factory is not None:
            network = self.factory(name, *args, **kwargs)
        else:
            entry = entry_file(self.folder)
            with _isolated(self.folder) as package:
                module = importlib.import_module(f"{package}.{entry.stem}")
                function = getattr(module, ENTRY_FUNCTION, None)
                if not callable(function):
                    raise HubError(f"{entry} has no function {ENTRY_FUNCTION}(name, *args, **kwargs)")
                network = function(name, *args, **kwargs)
        if not isinstance(network, nn.Cell):
            raise HubError(f"{ENTRY_FUNCTION} of {self.origin} returned {type(network).__name__}, not an nn.Cell")
        return network

    def hook(self, model_name: str, name: str) -> Callable | None:
        """The entry's optional function `name` (a hook, such as ``transform``), or None.

        A folder entry offers it as a function of its entry file, called inside the folder's
        isolated import; an installed entry as an entry point named like the model in the group
        ``mindspore_hub.<name>`` (`hook_group`).
        """
        if self.factory is not None:
            found = installed_entry(model_name, hook_group(name))
            return found.load() if found is not None else None
        entry = entry_file(self.folder)
        with _isolated(self.folder) as package:
            if not callable(getattr(importlib.import_module(f"{package}.{entry.stem}"), name, None)):
                return None

        def call(*args, **kwargs):
            with _isolated(self.folder) as package:
                return getattr(importlib.import_module(f"{package}.{entry.stem}"), name)(*args, **kwargs)

        return call


def entry_file(folder: Path) -> Path | None:
    """The folder's ``hub_conf.py`` (or upstream's ``mindspore_hub_conf.py``), if it has one."""
    return next((folder / name for name in ENTRY_FILES if (folder / name).is_file()), None)


def find_entry(info, trust_repo: bool | None = None, force_reload: bool = False) -> Entry:
    """The entry for a model's metadata (`ModelInfo`), trying installed, local, then remote code."""
    installed = installed_entry(info.model_name)
    if installed is not None and _serves(installed, info):
        return Entry(f"installed entry point {installed.name} = {installed.value}", factory=installed.load())
    local = _local_folder(info)
    if local is not None:
        return Entry(f"local folder {local}", folder=local)
    if info.repo_link:
        return _remote_entry(info, trust_repo, force_reload)
    raise HubError(f"no code for model {info.model_name!r}: no installed entry point in group {ENTRY_GROUP}, "
                   f"no {' or '.join(ENTRY_FILES)} beside {info.path}, and no repo-link")


def _serves(installed: importlib.metadata.EntryPoint, info) -> bool:
    """Whether an installed entry serves this card, logging the choice and why.

    An entry may declare the repo-link folders it serves (the group ``mindspore_hub.serves``, an
    entry point named like it whose value is a tuple of folder paths): then it serves a card whose
    repo-link names one of them, on any repository and branch, or a card shipped in this hub's own
    package data; any other card of that model-name gets its own code. An entry that declares
    nothing serves every card of its name.
    """
    declared = installed_entry(installed.name, hook_group("serves"))
    uid = names.printable(info.uid or info.path or info.model_name)
    if declared is None:
        log.info("%s: using the installed entry %s (it serves every card named %s)", uid, installed.value,
                 installed.name)
        return True
    folders = {folder.strip("/") for folder in declared.load()}
    try:
        folder = repo.parse_link(info.repo_link).folder if info.repo_link else None
    except HubError:
        folder = None
    if folder in folders:
        log.info("%s: using the installed entry %s: the card's repo-link folder %s is one it serves", uid,
                 installed.value, folder)
        return True
    if info.path and _is_packaged(Path(info.path)):
        log.info("%s: using the installed entry %s: the card ships with this hub", uid, installed.value)
        return True
    log.info("%s: not using the installed entry %s: it serves %s, and the card's repo-link is %s; "
             "the card's own code is used", uid, installed.value, ", ".join(sorted(folders)),
             names.printable(info.repo_link))
    return False


def _is_packaged(path: Path) -> bool:
    root = index.packaged_root()
    return root is not None and root.resolve() in path.resolve().parents


def hook_group(name: str) -> str:
    """The entry-point group where installed entries register the hook `name`."""
    return f"mindspore_hub.{name}"


def installed_entry(model_name: str, group: str = ENTRY_GROUP) -> importlib.metadata.EntryPoint | None:
    """The installed entry point of `group` whose name is `model_name` (case-insensitive)."""
    wanted = model_name.strip().lower()
    matches = [ep for ep in importlib.metadata.entry_points(group=group) if ep.name.lower() == wanted]
    if len(matches) > 1:
        log.warning("%d installed entries are named %s; using %s", len(matches), wanted, matches[0].value)
    return matches[0] if matches else None


def _local_folder(info) -> Path | None:
    """The entry folder of a local markdown file: its own folder (this project's layout), or upstream's
    ``<md folder>/<last name of repo-link>/``. Trusted because the user named the file or its hub root."""
    if not info.path:
        return None
    folder = Path(info.path).resolve().parent
    if cache.root().resolve() == folder or cache.root().resolve() in folder.parents:
        return None  # a markdown file fetched into the cache never brings code with it
    if entry_file(folder) is not None:
        return folder
    try:
        beside = folder / repo.parse_link(info.repo_link).name if info.repo_link else None
    except HubError:
        return None
    return beside if beside is not None and beside.is_dir() and entry_file(beside) is not None else None


def _remote_entry(info, trust_repo: bool | None, force_reload: bool) -> Entry:
    link = repo.parse_link(info.repo_link)
    folder_name = link.name
    trust.require(link.url, f"model {info.model_name!r}", trust_repo)
    key = hashlib.sha256(f"{link.url}\n{link.ref}\n{link.folder}".encode()).hexdigest()[:16]
    dest = cache.root() / "code" / key / folder_name
    commit = None if force_reload else repo.fetched_commit(dest)
    if commit is None:
        if settings.offline():
            raise OfflineError(f"offline ({settings.OFFLINE}=1) and the code of {info.model_name!r} "
                               f"({info.repo_link}) is not in the cache at {dest}")
        with cache.locked(f"code-{key}"):
            # another process may have fetched it while this one waited for the lock
            commit = None if force_reload else repo.fetched_commit(dest)
            if commit is None:
                commit = repo.fetch_folder(link, dest, cache.root())
                _forget_modules(dest)
    if entry_file(dest) is None:
        raise HubError(f"{info.repo_link} (commit {commit}) has no {' or '.join(ENTRY_FILES)}")
    return Entry(f"{link.url} {link.folder} at commit {commit}", folder=dest)


def _package_name(folder: Path) -> str:
    return f"{PRIVATE}.e{hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:16]}"


def _forget_modules(folder: Path) -> None:
    """Drop modules imported from an earlier copy of `folder`, so new code is imported afresh."""
    package = _package_name(folder)
    for name in [name for name in sys.modules if name == package or name.startswith(package + ".")]:
        del sys.modules[name]


def _local_names(folder: Path) -> set[str]:
    """Top-level module names an entry folder provides: its .py files, and its directories with
    a .py file anywhere below them (a package, or a folder that holds only subpackages).

    Names of the standard library and of packages already imported from site-packages are never
    shadowed; an entry that ships one gets a warning, and its imports of that name find the real one.
    """
    found = set()
    for path in folder.iterdir():
        if path.is_file() and path.suffix == ".py" and path.stem.isidentifier():
            found.add(path.stem)
        elif path.is_dir() and path.name.isidentifier() and next(path.rglob("*.py"), None) is not None:
            found.add(path.name)
    protected = {name for name in found if _protected(name)}
    if protected:
        log.warning("%s provides %s, which would shadow installed or standard modules; its imports of "
                    "these names get the installed ones", folder, ", ".join(sorted(protected)))
    return found - protected


def _protected(name: str) -> bool:
    """Names never shadowed: the standard library and packages already imported from site-packages."""
    if name in sys.stdlib_module_names:
        return True
    module = sys.modules.get(name)
    origin = getattr(module, "__file__", None) or ""
    roots = {sysconfig.get_paths()[key] for key in ("purelib", "platlib", "stdlib")}
    return any(origin.startswith(root + os.sep) for root in roots)


class _Redirect(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves the entry's own top-level names (and their submodules) inside its private package."""

    def __init__(self, package: str, local: set[str]):
        self.package, self.local = package, local

    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".", 1)[0] in self.local:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        return importlib.import_module(f"{self.package}.{spec.name}")

    def exec_module(self, module):
        pass  # already executed under its private name


def _ensure_package(name: str, path: list[str]) -> None:
    if name not in sys.modules:
        module = types.ModuleType(name)
        module.__path__ = path
        sys.modules[name] = module


@contextmanager
def _isolated(folder: Path):
    """Import from `folder` privately; restore sys.path and the shadowed sys.modules entries after."""
    folder = folder.resolve()
    package = _package_name(folder)
    local = _local_names(folder)
    _ensure_package(PRIVATE, [])
    _ensure_package(package, [str(folder)])
    saved_path = list(sys.path)
    shadowed = {name: module for name, module in sys.modules.items() if name.split(".", 1)[0] in local}
    for name in shadowed:
        del sys.modules[name]
    finder = _Redirect(package, local)
    sys.meta_path.insert(0, finder)
    importlib.invalidate_caches()
    try:
        yield package
    finally:
        sys.meta_path.remove(finder)
        for name in [name for name in sys.modules if name.split(".", 1)[0] in local]:
            del sys.modules[name]
        sys.modules.update(shadowed)
        sys.path[:] = saved_path
