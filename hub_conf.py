"""MindSpore Hub entry point of ssd_resnet50: `create_network(name, *args, **kwargs)`, and the
`transform` hook of `mindspore_hub.optimize.transform` (OpenVINO fp32/bf16/int8 on the CPU).

A hub imports this file from the model's folder; the same functions are also registered as
installed entry points (`mindspore_hub.entries` and `mindspore_hub.transform`: ssd_resnet50).
"""
import importlib

try:
    from ssd_resnet50.model import create_network
    PACKAGE = "ssd_resnet50"
except ModuleNotFoundError as missing:  # a bare checkout, imported from its own folder by a hub
    if missing.name != "ssd_resnet50":
        raise  # a dependency is missing: say so, do not mask it
    from src.ssd_resnet50.model import create_network
    PACKAGE = "src.ssd_resnet50"

__all__ = ["create_network", "transform"]


def transform(net, method, device, dataset=None, **options):
    """The network run by OpenVINO at `method` = "fp32", "bf16" or "int8" (calibrated on the
    images in `dataset`), on `device` "CPU": see `ssd_resnet50.optimize.transform`."""
    return importlib.import_module(f"{PACKAGE}.optimize").transform(net, method, device, dataset, **options)
