"""mindspore_hub.optimize.transform: upstream's signature, delegating to the entry's hook."""
import pytest

import mindspore_hub as mshub
from mindspore_hub import code
from mindspore_hub.optimize import TransformUnsupported, transform

HOOK = '''

def transform(net, method, device, dataset=None, **options):
    return ("transformed", net, method, device, dataset, options)
'''


def test_an_entry_without_the_hook_is_a_clear_not_implemented_error(publish):
    model = publish()
    net = mshub.load(model.uid)
    with pytest.raises(TransformUnsupported, match=r"does not support transform: it has no transform\(net, method"):
        transform(net, model.uid, "int8", "CPU", None)
    with pytest.raises(NotImplementedError):  # what upstream raised, for callers that catch it
        transform(net, model.uid, "int8", "CPU", None)


def test_a_folder_entry_with_the_hook_gets_the_call(publish):
    model = publish()
    with open(model.folder / "hub_conf.py", "a") as f:
        f.write(HOOK)
    net = mshub.load(model.uid)
    assert transform(net, model.uid, "int8", "CPU", "photos/", level=2) == (
        "transformed", net, "int8", "CPU", "photos/", {"level": 2})


def test_arguments_upstream_could_not_honour_are_refused(publish):
    model = publish()
    with pytest.raises(ValueError, match="use_sync=True"):
        transform(None, model.uid, "int8", "CPU", None, use_sync=True)
    with pytest.raises(ValueError, match="transform needs `model`"):
        transform(None, None, "int8", "CPU", None)


def test_an_installed_entry_offers_the_hook_through_its_entry_point_group():
    entry = code.installed_entry("ssd_resnet50", code.hook_group("transform"))
    assert entry is not None, "ssd_resnet50 is not registered under mindspore_hub.transform (pip install -e .)"
    from ssd_resnet50.optimize import transform as ssd_transform

    assert entry.load() is ssd_transform
