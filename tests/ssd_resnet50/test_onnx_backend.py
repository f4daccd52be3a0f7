"""The onnxruntime backend: equal outputs to MindSpore, the export cache, the choice of backend."""
import logging
import os
import sys

import numpy as np
import pytest

from ssd_resnet50.backends import factory, model_cache, onnxruntime_backend
from ssd_resnet50.backends import BackendUnavailable, make_backend
from ssd_resnet50.backends.mindspore_backend import MindSporeBackend
from ssd_resnet50.model.checkpoint import load_weights
from ssd_resnet50.model.config import DEFAULT_CONFIG
from ssd_resnet50.inference.detector import Detector
from ssd_resnet50.model.network import create_network
from ssd_resnet50.backends.model_cache import model_file_name
from ssd_resnet50.backends.onnxruntime_backend import OnnxRuntimeBackend
from tests.shared_files import shared_path
from tests.ssd_resnet50.outputs import assert_same_detections, reference_input

def _onnxruntime():
    return pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install .[onnx])")


@pytest.fixture(scope="module")
def ort_backend(fixture_network, fixture_checkpoint, tmp_path_factory):
    _onnxruntime()
    return OnnxRuntimeBackend(fixture_network, checkpoint=fixture_checkpoint,
                              cache_dir=tmp_path_factory.mktemp("onnx_640"))


@pytest.mark.parametrize("name", ["random_input", "coco439180"])
def test_outputs_equal_mindspore_on_reference_fixtures(name, ort_backend, fixture_detector):
    npz = np.load(shared_path("spec", f"reference_seed0_{name}.npz"))
    batch = reference_input(name, npz)
    ort_boxes, ort_scores = ort_backend(batch)
    ms_boxes, ms_scores = fixture_detector.backend(batch)
    assert ort_boxes.shape == ms_boxes.shape == (1, DEFAULT_CONFIG.num_anchors, 4)
    assert ort_scores.shape == ms_scores.shape == (1, DEFAULT_CONFIG.num_anchors, 81)
    np.testing.assert_allclose(ort_boxes, ms_boxes, rtol=0, atol=1e-5)
    np.testing.assert_allclose(ort_scores, ms_scores, rtol=0, atol=1e-5)
    # ... and both are the reference implementation's numbers.
    np.testing.assert_allclose(ort_boxes[0], npz["boxes"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(ort_scores[0][npz["rows"]], npz["scores_rows"], rtol=0, atol=1e-5)


def test_detections_on_the_photo_equal_mindspore(ort_backend, fixture_network, fixture_checkpoint,
                                                 fixture_detector, export_calls):
    photo = shared_path("data", "coco_val2017_sample", "000000439180.jpg")
    detector = Detector(fixture_network, backend="onnxruntime", checkpoint=fixture_checkpoint,
                        cache_dir=ort_backend.cache_dir)
    ort = detector.detect(photo)
    assert export_calls == []  # the model exported for the reference fixtures was reused
    ms = fixture_detector.detect(photo)
    assert_same_detections(ort, ms)


def test_session_options_threads_and_full_optimisation(ort_backend, fixture_network, tmp_path):
    ort = _onnxruntime()
    options = ort_backend.session(1).get_session_options()
    assert options.intra_op_num_threads == onnxruntime_backend.available_cores()
    assert options.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    assert OnnxRuntimeBackend(fixture_network, checkpoint_sha256="ab" * 32, cache_dir=tmp_path,
                              threads=1).threads == 1


def small_detector(path, cache_dir, **options):
    """A detector at 256x256 (fast to export and run) over the fixture checkpoint."""
    return Detector.from_checkpoint(path, image_size=256, backend="onnxruntime", cache_dir=cache_dir,
                                    **options)


@pytest.mark.slow
def test_second_detector_reuses_the_exported_model(fixture_checkpoint, tmp_path, export_calls):
    _onnxruntime()
    batch = np.random.default_rng(0).standard_normal((1, 3, 256, 256)).astype(np.float32)
    first = small_detector(fixture_checkpoint, tmp_path, checkpoint=fixture_checkpoint)
    boxes, scores = first.raw(batch)
    assert len(export_calls) == 1
    cached = sorted(p.name for p in tmp_path.iterdir())
    assert cached == [export_calls[0].rsplit("/", 1)[-1], export_calls[0].rsplit("/", 1)[-1] + ".json"]
    assert cached[0].startswith(model_cache.file_sha256(fixture_checkpoint)[:24])

    second = small_detector(fixture_checkpoint, tmp_path, checkpoint=fixture_checkpoint)
    again = second.raw(batch)
    assert len(export_calls) == 1, "the second Detector exported again"
    np.testing.assert_array_equal(again[0], boxes)
    np.testing.assert_array_equal(again[1], scores)
    # A new batch size is a new model: one more export, then reused too.
    second.raw(np.concatenate([batch, batch]))
    second.raw(np.concatenate([batch, batch]))
    assert len(export_calls) == 2


def damage(path, how):
    data = open(path, "rb").read()
    if how == "truncated":
        open(path, "wb").write(data[: len(data) // 2])
    elif how == "same size, other bytes":
        middle = len(data) // 2
        open(path, "wb").write(data[:middle] + bytes(b ^ 0xFF for b in data[middle:middle + 64]) + data[middle + 64:])
    elif how == "record missing":
        os.remove(path + ".json")
    elif how == "not a model, with a matching record":
        open(path, "wb").write(b"not an onnx model")
        model_cache.write_record(path)
    else:
        raise AssertionError(how)


@pytest.mark.slow
def test_a_damaged_cached_model_is_rebuilt(fixture_checkpoint, tmp_path, export_calls, caplog):
    _onnxruntime()
    network = create_network("ssd_resnet50", image_size=256)
    load_weights(network, fixture_checkpoint)
    batch = np.random.default_rng(0).standard_normal((1, 3, 256, 256)).astype(np.float32)
    expected = OnnxRuntimeBackend(network, checkpoint=fixture_checkpoint, cache_dir=tmp_path)(batch)
    model = export_calls[0]
    hows = ["truncated", "same size, other bytes", "record missing", "not a model, with a matching record"]
    for count, how in enumerate(hows, start=2):
        damage(model, how)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="ssd_resnet50.backends.onnxruntime_backend"):
            rebuilt = OnnxRuntimeBackend(network, checkpoint=fixture_checkpoint, cache_dir=tmp_path)(batch)
        assert len(export_calls) == count, f"{how}: the damaged model was not rebuilt"
        assert export_calls[-1] == model
        assert "exporting it again" in caplog.text, how
        np.testing.assert_array_equal(rebuilt[0], expected[0])
        np.testing.assert_array_equal(rebuilt[1], expected[1])


def test_weights_key_from_checkpoint_sha_or_parameters(fixture_network, fixture_checkpoint, tmp_path):
    _onnxruntime()
    by_file = OnnxRuntimeBackend(fixture_network, checkpoint=fixture_checkpoint, cache_dir=tmp_path)
    by_sha = OnnxRuntimeBackend(fixture_network, checkpoint_sha256=by_file.weights_id.upper(), cache_dir=tmp_path)
    assert by_file.model_path(1) == by_sha.model_path(1)
    with pytest.raises(ValueError, match="64 hex digits"):
        OnnxRuntimeBackend(fixture_network, checkpoint_sha256="../../etc", cache_dir=tmp_path)
    by_params = OnnxRuntimeBackend(fixture_network, cache_dir=tmp_path)
    assert by_params.weights_id == OnnxRuntimeBackend(fixture_network, cache_dir=tmp_path).weights_id
    assert by_params.weights_id != by_file.weights_id
    other = OnnxRuntimeBackend(create_network("ssd_resnet50"), cache_dir=tmp_path)  # random init
    assert other.weights_id != by_params.weights_id


def test_cache_file_name_holds_weights_version_size_and_batch():
    sha = "0123456789abcdef" * 4
    name = model_file_name(sha, DEFAULT_CONFIG, 1)
    assert name.startswith(sha[:24]) and name.endswith(".onnx")
    assert f"-v{model_cache.project_version()}-" in name and "-640x640-b1-" in name
    variants = {
        name,
        model_file_name(sha, DEFAULT_CONFIG, 8),
        model_file_name(sha, DEFAULT_CONFIG.with_options(image_size=512), 1),
        model_file_name(sha, DEFAULT_CONFIG.with_options(num_classes=3), 1),
        model_file_name("f" + sha[1:], DEFAULT_CONFIG, 1),
    }
    assert len(variants) == 5


def test_default_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(model_cache.CACHE_ENV, str(tmp_path / "mine"))
    assert model_cache.default_cache_dir() == str(tmp_path / "mine")
    monkeypatch.delenv(model_cache.CACHE_ENV)
    monkeypatch.setenv("MSHUB_DIR", str(tmp_path / "hub"))
    assert model_cache.default_cache_dir() == str(tmp_path / "hub" / "onnx")
    monkeypatch.delenv("MSHUB_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert model_cache.default_cache_dir() == str(tmp_path / "xdg" / "mindspore_hub" / "onnx")


def test_auto_picks_onnxruntime_on_cpu_without_openvino_and_says_so(fixture_network, tmp_path, monkeypatch,
                                                                     caplog):
    _onnxruntime()
    monkeypatch.setitem(sys.modules, "openvino", None)  # OpenVINO, which "auto" prefers, is not installed
    with caplog.at_level(logging.DEBUG, logger="ssd_resnet50.backends.factory"):
        backend = make_backend("auto", fixture_network, cache_dir=tmp_path)
    assert isinstance(backend, OnnxRuntimeBackend)
    assert "auto -> onnxruntime" in caplog.text


def test_auto_picks_mindspore_on_another_device(fixture_network, monkeypatch, caplog):
    real = factory.ms.get_context
    monkeypatch.setattr(factory.ms, "get_context", lambda key: "GPU" if key == "device_target" else real(key))
    with caplog.at_level(logging.DEBUG, logger="ssd_resnet50.backends.factory"):
        backend = make_backend("auto", fixture_network)
    assert isinstance(backend, MindSporeBackend)
    assert "auto -> mindspore (device GPU)" in caplog.text


def test_without_onnxruntime_auto_falls_back_and_explicit_explains(fixture_network, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` now raises ImportError
    monkeypatch.setitem(sys.modules, "openvino", None)  # and so does OpenVINO, which "auto" prefers
    with caplog.at_level(logging.DEBUG, logger="ssd_resnet50.backends.factory"):
        assert isinstance(Detector(fixture_network).backend, MindSporeBackend)
    assert "not installed" in caplog.text
    with pytest.raises(BackendUnavailable, match=r"pip install \.\[onnx\]"):
        Detector(fixture_network, backend="onnxruntime")
    with pytest.raises(ImportError):  # BackendUnavailable is an ImportError for callers that catch those
        make_backend("onnxruntime", fixture_network)


def test_unusable_cache_dir_auto_falls_back_explicit_raises(fixture_network, tmp_path):
    _onnxruntime()
    blocker = tmp_path / "a file"
    blocker.write_text("")
    with pytest.raises(OSError):
        make_backend("onnxruntime", fixture_network, cache_dir=blocker / "cache")
    assert isinstance(make_backend("auto", fixture_network, cache_dir=blocker / "cache"), MindSporeBackend)


def test_backend_options_are_checked(fixture_network):
    with pytest.raises(TypeError, match="unknown backend options"):
        make_backend("mindspore", fixture_network, thread=2)
    # onnxruntime's options are accepted (and ignored) by MindSpore, so callers need not care which runs.
    assert isinstance(make_backend("mindspore", fixture_network, checkpoint="x.ckpt", threads=2), MindSporeBackend)
