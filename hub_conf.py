"""MindSpore Hub entry point of ssd_resnet50: `create_network(name, *args, **kwargs)`, the
`transform` hook of `mindspore_hub.optimize.transform` (OpenVINO fp32/bf16/int8 on the CPU), and
the `create_pipeline` hook of `mindspore_hub.deploy.serving` (encoded images in, detections out).

A hub imports this file from the model's folder; the same functions are also registered as
installed entry points (`mindspore_hub.entries`, `mindspore_hub.transform` and
`mindspore_hub.create_pipeline`: ssd_resnet50).
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

__all__ = ["create_network", "transform", "create_pipeline"]


def transform(net, method, device, dataset=None, **options):
    """The network run by OpenVINO at `method` = "fp32", "bf16" or "int8" (calibrated on the
    images in `dataset`), on `device` "CPU": see `ssd_resnet50.optimize.transform`."""
    return importlib.import_module(f"{PACKAGE}.optimize").transform(net, method, device, dataset, **options)


def create_pipeline(name, network, max_batch_size=None, **options):
    """The serving pipeline of `network` for `mindspore_hub.deploy.serving`: image files (BYTES) in,
    detections out, through the Detector; `options` are the Detector's (backend, score_threshold,
    ...) and max_pixels: see `ssd_resnet50.serving.create_pipeline`."""
    return importlib.import_module(f"{PACKAGE}.serving").create_pipeline(name, network, max_batch_size, **options)
