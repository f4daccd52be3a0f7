"""Model acceleration: ``transform(net, model, method, device, dataset)``, upstream's signature, made real.

Upstream declares this function and raises NotImplementedError. Here the loader stays
model-agnostic: it finds the entry of the hub model `model` as `mindspore_hub.load` does (with
the same trust rules) and hands the work to the entry's ``transform`` hook, which decides what
`method`, `device` and `dataset` mean for its network. An entry offers the hook as

- a function ``transform(net, method, device, dataset, **options)`` in its ``hub_conf.py`` (or
  ``mindspore_hub_conf.py``), or
- for an installed entry, an entry point named like the model in the group
  ``mindspore_hub.transform`` (``ssd_resnet50 = ssd_resnet50.optimize:transform``).

An entry without it gets `TransformUnsupported`, which is also a NotImplementedError, as
upstream raised.

>>> import mindspore_hub as mshub
>>> from mindspore_hub.optimize import transform
>>> uid = "mindspore/ascend/1.3/ssdresnet50_v1.3_coco2017"
>>> fast = transform(mshub.load(uid), uid, "int8", "CPU", "calibration_photos/")   # doctest: +SKIP
"""

from __future__ import annotations

import os

from .. import code, index, names
from ..errors import HubError

__all__ = ["transform", "TransformUnsupported", "HOOK"]

HOOK = "transform"


class TransformUnsupported(HubError, NotImplementedError):
    """The model's entry offers no ``transform`` hook (or not what was asked of it)."""


def transform(net, model: str | os.PathLike[str] | None, method: str, device: str, dataset=None,
              use_sync: bool = False, *, source: str | None = None, trust_repo: bool | None = None, **options):
    """Transform `net` (the network of hub model `model`) for acceleration or a lighter model.

    Args:
        net: the network, as `mindspore_hub.load(model)` returned it.
        model: the hub model's name (a uid, a URL to its .md, or a local .md path); its entry does the work.
        method: what to do, in the entry's terms (the ssd_resnet50 entry: "fp32", "bf16", "int8").
        device: the target device (the ssd_resnet50 entry: "CPU").
        dataset: data the method needs (the ssd_resnet50 entry: calibration images for "int8").
        use_sync: upstream's "synchronise the cache on the cloud side"; there is no such cloud, so
            True is refused.
        source, trust_repo: as for `mindspore_hub.load`. Other keyword options go to the hook.

    Returns:
        What the entry's hook returns (upstream documents an nn.Cell; the ssd_resnet50 entry returns one).
    """
    if use_sync:
        raise ValueError("transform(use_sync=True): there is no cloud-side cache to synchronise with; "
                         "call it with use_sync=False")
    if model is None:
        raise ValueError("transform needs `model`, the hub name of the network's model: its entry does the transform")
    meta = index.lookup(names.parse(model, source), source, False)
    entry = code.find_entry(meta, trust_repo=trust_repo)
    hook = entry.hook(meta.model_name, HOOK)
    if hook is None:
        raise TransformUnsupported(
            f"the entry of {meta.uid or meta.model_name} ({entry.origin}) does not support transform: it has no "
            f"{HOOK}(net, method, device, dataset) function in its entry file and no "
            f"{code.hook_group(HOOK)} entry point")
    return hook(net, method, device, dataset, **options)
