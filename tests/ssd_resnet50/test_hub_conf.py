"""hub_conf.py, the file a hub imports from the model's folder."""
import importlib.metadata

import pytest

import hub_conf
from ssd_resnet50.model.network import SsdInference, SsdTraining


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


def test_a_bare_checkout_imports_the_network_from_src(tmp_path):
    """Without the package installed, hub_conf.py finds src/ssd_resnet50 beside it."""
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(hub_conf.__file__).resolve().parent
    code = (
        "import sys, importlib.abc\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'ssd_resnet50':\n"
        "            raise ModuleNotFoundError('blocked', name=name)\n"
        "sys.meta_path.insert(0, Block())\n"
        f"sys.path.insert(0, {str(repo)!r})\n"
        "import hub_conf\n"
        "print(hub_conf.create_network.__module__)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "src.ssd_resnet50.model.network"
