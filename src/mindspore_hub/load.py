"""Getting a model: its network built by its entry, with verified weights (upstream's ``mindspore_hub.load``).

`load`, `load_weights` and `download` check their arguments' types and the name's form before
anything touches the network, raising TypeError and ValueError as upstream does.

>>> from mindspore_hub.load import load_weights   # upstream's import path   # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path

from . import cache, code, index, names, settings, urls, weights
from .errors import DownloadError, HubError
from .info import info
from .names import check_flags

__all__ = ["load", "load_weights", "download", "verify"]


def _get_network_from_cache(name: str, path: str | os.PathLike[str], *args, **kwargs):
    """Upstream's helper: the network of the entry folder `path` (``hub_conf.py`` or ``mindspore_hub_conf.py``).

    The folder is named by the caller, so its code is trusted as a ``source="local"`` folder is.
    """
    folder = Path(path).expanduser().resolve()
    if code.entry_file(folder) is None:
        raise ValueError(f"{folder} holds no {' or '.join(code.ENTRY_FILES)}")
    return code.Entry(f"local folder {folder}", folder=folder).create(name, *args, **kwargs)


def download(name: str | os.PathLike[str], source: str | None = None, force_reload: bool = False) -> str:
    """The local path of the model's checkpoint, verified by sha256 (downloaded if needed)."""
    check_flags(force_reload=force_reload)
    return str(_checkpoint(info(name, source, force_reload), force_reload))


def load_weights(network, handle: str | os.PathLike[str] | None = None, source: str | None = None,
                 force_reload: bool = False, strict: bool = True):
    """The verified checkpoint's weights: loaded into `network`, or returned as a dict.

    Upstream's form, ``load_weights(network, handle)`` with an `nn.Cell`, loads the weights of
    the model named `handle` into `network` (strictly unless ``strict=False``) and returns it.
    ``load_weights(name)`` returns the parameters as `mindspore.load_checkpoint` does.
    """
    from mindspore import nn

    check_flags(force_reload=force_reload, strict=strict)
    if isinstance(network, nn.Cell):
        if handle is None:
            raise TypeError("load_weights(network, handle): name the model whose weights to load")
        _load_checkpoint(network, info(handle, source, force_reload), force_reload, strict)
        return network
    if handle is not None:
        raise TypeError(f"load_weights(network, handle) needs an nn.Cell, not {type(network).__name__}")
    return _verified_params(info(network, source, force_reload), force_reload)[0]


def load(name: str | os.PathLike[str], *args, source: str | None = None, pretrained: bool = True,
         force_reload: bool = False, trust_repo: bool | None = None, strict: bool = True, **kwargs):
    """Create the model's network with ``create_network(model_name, *args, **kwargs)`` and load its weights.

    `source`: None (auto), 'gitee' or 'github' (remote index) or 'local' (`name` is a .md path).
    `force_reload`: fetch remote metadata, code and weights again. `trust_repo`: allow running code
    fetched from the metadata's repo-link (True; also remembered), refuse it (False), or rely on
    MSHUB_TRUST_REPO / the trusted list (None). `strict`: raise if a network parameter is missing
    from the checkpoint or has another shape; False loads what fits and logs the rest.
    """
    check_flags(pretrained=pretrained, force_reload=force_reload, strict=strict)
    if trust_repo is not None:
        check_flags(trust_repo=trust_repo)
    meta = info(name, source, force_reload)
    rehash = None
    if pretrained:
        _check_asset(checkpoint_asset(meta))  # before any of the model's code is fetched or run
        rehash = _start_rehash(meta, force_reload)  # a cached checkpoint is re-hashed from now on...
    entry = code.find_entry(meta, trust_repo=trust_repo, force_reload=force_reload)
    network = entry.create(meta.model_name, *args, **kwargs)  # ...while the network is built
    if pretrained:
        _load_checkpoint(network, meta, force_reload, strict, rehash)
    return network


def verify(name: str | os.PathLike[str], source: str | None = None) -> bool:
    """Re-hash a cached checkpoint (by model name, or a path in the cache); delete it if it is corrupt."""
    text = os.fspath(name)
    candidate = Path(text).expanduser()
    in_cache = candidate.is_file() and (cache.root() / "assets").resolve() in candidate.resolve().parents
    if not text.endswith(".md") and (in_cache or (names.is_explicit_path(text) and candidate.is_file())):
        return cache.verify(candidate)  # a path; a file elsewhere that is named like a uid is not one
    asset = checkpoint_asset(info(name, source))
    path = cache.asset_path(asset.asset_sha256, asset.file_name)
    if not path.is_file():
        raise HubError(f"{name} is not in the cache ({path}); nothing to verify")
    return cache.verify(path)


def checkpoint_asset(meta):
    """The metadata's checkpoint asset (the first with file-format ckpt, else the first)."""
    if not meta.assets:
        raise HubError(f"{meta.path or meta.model_name} lists no asset; load it with pretrained=False")
    return next((asset for asset in meta.assets if asset.file_format == "ckpt"), meta.assets[0])


def _check_asset(asset) -> None:
    """Refuse an asset whose sha256, file name or link (after mirrors) the download would refuse."""
    cache.asset_path(asset.asset_sha256, asset.file_name)
    urls.asset_url(asset.asset_link)


def _checkpoint(meta, force_reload: bool) -> Path:
    asset = checkpoint_asset(meta)
    try:
        return cache.fetch(asset.asset_link, asset.asset_sha256, asset.file_name, force=force_reload,
                           label=meta.uid or meta.model_name, adopt=_copies_elsewhere(meta, asset))
    except DownloadError as error:
        if error.status != 404:
            raise
        raise DownloadError(f"{error}\n{_gone_hint(meta, asset)}", status=404) from error


def _copies_elsewhere(meta, asset) -> tuple[Path, ...]:
    """Where the checkpoint may already be, for `cache.fetch` to adopt once its sha256 matched.

    Beside a local markdown file (upstream's local layout), and in upstream's own cache
    (``<MSHUB_UPSTREAM_CACHE>/<uid's folders>/<file>``; upstream keeps files that failed their hash,
    which is why nothing is used before it is hashed).
    """
    found = []
    if meta.path and cache.root().resolve() not in Path(meta.path).resolve().parents:
        found.append(Path(meta.path).parent / asset.file_name)
    base = settings.upstream_cache()
    if base is not None and meta.uid is not None:
        found.append(base.joinpath(*meta.uid.split("/")[:-1], asset.file_name))
    return tuple(found)


def _gone_hint(meta, asset) -> str:
    """What to do when a card's checkpoint answers 404: whether the hub's current card names another one.

    The weights are never switched for the user: the hint names the newer checkpoint and the call
    that loads it, and the user decides.
    """
    if meta.uid is None:
        return "The checkpoint this card names is gone; ask its publisher for a current card."
    cached = meta.path is not None and cache.root().resolve() in Path(meta.path).resolve().parents
    # a card cached from the remote index is replaced only when asked to (force_reload)
    how = f"mshub.load({meta.uid!r}, source='gitee'{', force_reload=True' if cached else ''})"
    show = f"mshub info {meta.uid} --source gitee{' --force-reload' if cached else ''}"
    try:
        newer = checkpoint_asset(index.current_card(names.parse(meta.uid)))  # the cache is left as it is
    except (HubError, OSError, ValueError) as error:
        return (f"The hub's current card for {meta.uid} may name a newer checkpoint; it could not be read "
                f"({names.printable(str(error).splitlines()[0])}). When it can: `{show}` shows it and {how} "
                "loads it.")
    if newer.asset_sha256.lower() == asset.asset_sha256.lower():
        return f"The hub's current card for {meta.uid} names the same checkpoint; it is gone upstream too."
    return (f"A newer checkpoint exists upstream: the hub's current card for {meta.uid} names {newer.asset_link} "
            f"(sha256 {newer.asset_sha256}). Nothing was switched for you: load that one with {how}.")


def _load_checkpoint(network, meta, force_reload: bool, strict: bool, rehash=None) -> None:
    """Load the model's verified checkpoint into `network`."""
    params, path = _verified_params(meta, force_reload, rehash)
    weights.load_into(network, params, strict=strict, source=path)


def _start_rehash(meta, force_reload: bool):
    """A `cache.Rehash` of the cached checkpoint, or None (not cached, or about to be fetched again)."""
    if force_reload:
        return None
    asset = checkpoint_asset(meta)
    return cache.Rehash.start(asset.asset_sha256, asset.file_name)


def _verified_params(meta, force_reload: bool, rehash=None) -> tuple[dict, str]:
    """The checkpoint's parameters, parsed from bytes whose sha256 was checked, and its path.

    A cached copy is re-hashed on a worker thread (started by the caller before it built the network,
    or here) while MindSpore parses it; the parameters are kept only if the hash matched and the file
    did not change meanwhile. A corrupt copy is deleted and downloaded again; a download is hashed as
    it arrives.
    """
    import mindspore

    if rehash is None:
        rehash = _start_rehash(meta, force_reload)
    if rehash is not None:
        try:
            params = mindspore.load_checkpoint(str(rehash.path))
        except Exception:
            if rehash.ok():
                raise  # the bytes are the published ones: MindSpore's own error is the answer
        else:
            if rehash.ok():
                return params, str(rehash.path)
    path = str(_checkpoint(meta, force_reload))
    return mindspore.load_checkpoint(path), path
