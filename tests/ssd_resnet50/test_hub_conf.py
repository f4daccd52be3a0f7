"""hub_conf.py, the file a hub imports from the model's folder."""
import importlib.metadata

import pytest

import hub_conf
from ssd_resnet50.model import SsdInference, SsdTraining


def test_create_network_is_the_entry_point():
    net = hub_conf.create_network("ssd_resnet50")
    assert isinstance(net, SsdInference)
    assert next(net.get_parameters()).name.startswith("network.")
    assert isinstance(hub_conf.create_network("SSD_RESNET50", is_training=True), SsdTraining)


def test_unknown_name_lists_supported_names():
    with pytest.raises(ValueError, match=r"supported names: ssd_resnet50"):
        hub_conf.create_network("resnet50")


def test_installed_entry_point_is_registered():
    entries = importlib.metadata.entry_points(group="mindspore_hub.entries")
    found = [entry for entry in entries if entry.name == "ssd_resnet50"]
    assert found, "ssd_resnet50 is not registered under mindspore_hub.entries (pip install .)"
    assert found[0].load() is hub_conf.create_network
