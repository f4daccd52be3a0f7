"""Listing the models a hub offers (upstream's ``mindspore_hub.list``)."""

from __future__ import annotations

from . import index, names

__all__ = ["hub_list"]


def hub_list(version: str | None = None, force_reload: bool = False, local_only: bool = False) -> list[str]:
    """Full uids (accepted by `load`) of the local hub roots and the remote index for `version`.

    As upstream, it raises (`index.IndexUnavailableError`, a ConnectionError) when the remote index
    cannot be listed, rather than return part of the list; ``local_only=True`` lists only the
    local hub roots and what is cached, as MSHUB_OFFLINE=1 does.
    """
    names.check_flags(force_reload=force_reload, local_only=local_only)
    if version is not None and not isinstance(version, str):
        raise TypeError(f"version must be a string such as '1.3' or 'r1.8', or None, not {version!r}")
    return index.list_uids(version, force_reload, local_only=local_only)
