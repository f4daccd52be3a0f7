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


def test_transform_through_the_hub_runs_the_network_on_openvino(fixture_network, fixture_checkpoint, tmp_path,
                                                                 monkeypatch):
    """mindspore_hub.optimize.transform finds this entry's hook (the installed entry point) for the
    published uid, without a download; the result is an nn.Cell that a Detector can use."""
    import numpy as np
    from mindspore import nn

    from mindspore_hub.optimize import transform
    from ssd_resnet50.backends import BackendUnavailable
    from ssd_resnet50.backends.openvino_backend import import_openvino
    from ssd_resnet50.cli.arguments import PUBLISHED_UID
    from ssd_resnet50.inference.detector import Detector

    try:
        import_openvino()
    except BackendUnavailable as error:
        pytest.skip(str(error))
    monkeypatch.setenv("MSHUB_OFFLINE", "1")
    monkeypatch.setenv("MSHUB_DIR", str(tmp_path / "hub"))
    fast = transform(fixture_network, PUBLISHED_UID, "fp32", "CPU", None, cache_dir=tmp_path)
    assert isinstance(fast, nn.Cell) and fast.backend.name == "openvino" and fast.backend.precision == "fp32"
    batch = np.random.default_rng(0).standard_normal((1, 3, 640, 640)).astype(np.float32)
    boxes, scores = fast(batch)
    expected = Detector(fixture_network, backend="mindspore").raw(batch)
    np.testing.assert_allclose(boxes.asnumpy(), expected[0], rtol=0, atol=1e-5)
    np.testing.assert_allclose(scores.asnumpy(), expected[1], rtol=0, atol=1e-5)
    assert Detector(fast).backend is fast.backend
    with pytest.raises(ValueError, match="brings its own backend"):
        Detector(fast, backend="mindspore")
    with pytest.raises(ValueError, match="accelerates for the CPU only"):
        transform(fixture_network, PUBLISHED_UID, "fp32", "GPU", None)
    with pytest.raises(ValueError, match="method 'int8' needs calibration images"):
        transform(fixture_network, PUBLISHED_UID, "int8", "CPU", None)
