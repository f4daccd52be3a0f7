"""Fixtures for the model-zoo entry: fixture weights as a network and as a checkpoint file."""
import pytest

from ssd_resnet50.model.checkpoint import load_weights
from ssd_resnet50.model.network import create_network


@pytest.fixture(scope="session")
def fixture_params(fixture_weights_module):
    """Seed-0 stand-in weights: {name: float32 array} in the published layout."""
    return fixture_weights_module.weights(0)


@pytest.fixture(scope="session")
def fixture_checkpoint(fixture_weights_module, tmp_path_factory):
    """The seed-0 weights saved as a MindSpore checkpoint (inference layout, 355 tensors)."""
    path = tmp_path_factory.mktemp("weights") / "fixture_seed0.ckpt"
    fixture_weights_module.save_checkpoint(str(path), 0)
    return path


@pytest.fixture(scope="session")
def fixture_network(fixture_checkpoint):
    """The inference network with seed-0 weights, in inference mode."""
    network = create_network("ssd_resnet50")
    load_weights(network, fixture_checkpoint)
    network.set_train(False)
    return network


@pytest.fixture(scope="session")
def fixture_detector(fixture_network):
    from ssd_resnet50.inference.detector import Detector

    return Detector(fixture_network, backend="mindspore")


@pytest.fixture(scope="session", autouse=True)
def onnx_cache_dir(tmp_path_factory):
    """Exported ONNX models of this test session go to a temporary directory, never to the
    user's cache (whatever backend "auto" picks in a test)."""
    from ssd_resnet50.backends.model_cache import CACHE_ENV

    path = tmp_path_factory.mktemp("onnx_cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CACHE_ENV, str(path))
        yield path


@pytest.fixture
def export_calls(monkeypatch):
    """Paths the backends export ONNX models to, counted through the project's export function."""
    from ssd_resnet50.backends import model_cache

    calls = []
    real = model_cache.export_network

    def counting(network, path, *args, **kwargs):
        calls.append(path)
        return real(network, path, *args, **kwargs)

    monkeypatch.setattr(model_cache, "export_network", counting)
    return calls


@pytest.fixture(scope="session")
def shapes_coco(tmp_path_factory):
    """A generated COCO-format set (tests/ssd_resnet50/synthetic.py) with the cases a reader
    must filter: a crowd box, an image without boxes, a third category. -> (json path, image dir)"""
    from tests.ssd_resnet50.synthetic import make_shapes_dataset

    return make_shapes_dataset(str(tmp_path_factory.mktemp("shapes")), num_images=9, image_size=96, seed=3,
                               extras=True)


@pytest.fixture(scope="session")
def subprocess_env():
    """Environment for child processes (the CLI, msrun and its workers): this interpreter's
    directory first on PATH (msrun starts `python` from PATH) and this checkout's package first
    on PYTHONPATH, so children run the code under test."""
    import os
    import sys

    import ssd_resnet50

    env = dict(os.environ)
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(ssd_resnet50.__file__)))
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join(p for p in [package_root, env.get("PYTHONPATH")] if p)
    return env
