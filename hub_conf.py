"""MindSpore Hub entry point of ssd_resnet50: `create_network(name, *args, **kwargs)`.

A hub imports this file from the model's folder; the same function is also registered as
the installed entry point `mindspore_hub.entries: ssd_resnet50`.
"""
try:
    from ssd_resnet50.model import create_network
except ModuleNotFoundError as missing:  # a bare checkout, imported from its own folder by a hub
    if missing.name != "ssd_resnet50":
        raise  # a dependency is missing: say so, do not mask it
    from src.ssd_resnet50.model import create_network

__all__ = ["create_network"]
