"""`ssd-resnet50 export`: MINDIR and ONNX files that reproduce the network's outputs."""
import os

import mindspore as ms
import numpy as np
import pytest
from mindspore import nn

from ssd_resnet50.backends.mindspore_backend import MindSporeBackend
from ssd_resnet50.model.checkpoint import load_weights
from ssd_resnet50.cli import main
from ssd_resnet50.model.exporting import export_network, with_extension
from ssd_resnet50.model.network import create_network


def random_batch(batch, size, seed=0):
    return np.random.default_rng(seed).standard_normal((batch, 3, size, size)).astype(np.float32)


def assert_same_outputs(got, expected):
    for name, a, b in zip(("boxes", "scores"), got, expected):
        assert a.shape == b.shape, name
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5, err_msg=name)


@pytest.fixture(scope="module")
def network_320(fixture_checkpoint):
    network = create_network("ssd_resnet50", image_size=320)
    load_weights(network, fixture_checkpoint)
    return network


@pytest.mark.slow
def test_mindir_reloads_and_reproduces_the_network(fixture_checkpoint, fixture_detector, tmp_path, capsys):
    stale = tmp_path / "ssd.mindir"
    stale.write_bytes(b"an older export")
    stale.chmod(0o400)
    status = main(["export", "--format", "mindir", "--weights", str(fixture_checkpoint),
                   "--out", str(tmp_path / "ssd")])
    assert status == 0
    assert "wrote " + str(stale) in capsys.readouterr().out
    assert sorted(os.listdir(tmp_path)) == ["ssd.mindir"], "a temporary file was left behind"

    graph = nn.GraphCell(ms.load(str(stale)))
    batch = random_batch(1, 640)
    got = [t.asnumpy() for t in graph(ms.Tensor(batch))]
    assert_same_outputs(got, fixture_detector.raw(batch))


@pytest.mark.slow
def test_mindir_with_a_dynamic_batch(fixture_checkpoint, network_320, tmp_path):
    out = tmp_path / "dynamic.mindir"
    assert main(["export", "--weights", str(fixture_checkpoint), "--image-size", "320", "--dynamic-batch",
                 "--out", str(out)]) == 0
    graph = nn.GraphCell(ms.load(str(out)))
    reference = MindSporeBackend(network_320)
    for size in (3, 1):
        batch = random_batch(size, 320, seed=size)
        assert_same_outputs([t.asnumpy() for t in graph(ms.Tensor(batch))], reference(batch))


@pytest.mark.slow
def test_onnx_runs_in_onnxruntime_with_the_same_outputs(fixture_checkpoint, network_320, tmp_path, capsys):
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install .[onnx])")
    out = tmp_path / "ssd.onnx"
    assert main(["export", "--format", "ONNX", "--weights", str(fixture_checkpoint), "--image-size", "320",
                 "--batch-size", "2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "input : float32 [2, 3, 320, 320]" in printed
    assert f"[2, {network_320.config.num_anchors}, 81]" in printed
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["images"]
    assert [o.name for o in session.get_outputs()] == ["boxes", "scores"]
    batch = random_batch(2, 320)
    assert_same_outputs(session.run(None, {"images": batch}), MindSporeBackend(network_320)(batch))


def test_onnx_with_a_dynamic_batch_is_refused_before_any_work(tmp_path, capsys):
    status = main(["export", "--format", "onnx", "--dynamic-batch", "--weights", str(tmp_path / "absent.ckpt"),
                   "--out", str(tmp_path / "x.onnx")])
    assert status == 1
    assert "cannot export ONNX with a dynamic batch" in capsys.readouterr().err
    assert os.listdir(tmp_path) == []


def test_unknown_format_is_an_argument_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["export", "--format", "tflite", "--out", "x"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_missing_checkpoint_is_reported(tmp_path, capsys):
    status = main(["export", "--weights", str(tmp_path / "absent.ckpt"), "--out", str(tmp_path / "x")])
    assert status == 1
    assert "checkpoint not found" in capsys.readouterr().err


def test_extension_and_batch_checks(fixture_network, tmp_path):
    assert with_extension("model", "mindir") == "model.mindir"
    assert with_extension("model.MINDIR", "MINDIR") == "model.MINDIR"
    assert with_extension("model.onnx", "ONNX") == "model.onnx"
    with pytest.raises(ValueError, match="at least 1"):
        export_network(fixture_network, tmp_path / "x.onnx", "ONNX", batch_size=0)
    with pytest.raises(ValueError, match="unknown export format"):
        export_network(fixture_network, tmp_path / "x.air", "AIR")
