"""The network against the published checkpoint's layout and the original implementation's outputs."""
import json

import mindspore as ms
import numpy as np
import pytest

from tests.shared_files import shared_path
from ssd_resnet50.model.checkpoint import CheckpointMismatch, load_weights
from ssd_resnet50.model.network import SsdInference, SsdTraining, create_network
from ssd_resnet50.inference.postprocess import postprocess
from ssd_resnet50.inference.preprocess import preprocess

REFERENCES = ("reference_seed0_random_input.npz", "reference_seed0_coco439180.npz")


@pytest.fixture(scope="module")
def manifest():
    with open(shared_path("spec", "ssd_resnet50_params.json")) as f:
        return json.load(f)


def reference(name):
    data = dict(np.load(shared_path("spec", name)))
    if "input" not in data:  # documented in the file's note
        data["input"] = np.random.default_rng(1234).standard_normal((1, 3, 640, 640)).astype(np.float32)
    return data


def test_parameters_equal_the_published_layout(manifest):
    network = create_network("ssd_resnet50")
    ours = [(p.name, list(p.shape)) for p in network.get_parameters()]
    assert ours == list(manifest["inference"].items())
    assert len(ours) == manifest["counts"]["inference_tensors"] == 355
    assert sum(int(np.prod(shape)) for _, shape in ours) == manifest["counts"]["inference_elements"]


@pytest.mark.parametrize("name", REFERENCES)
def test_outputs_match_the_original_implementation(fixture_network, name):
    ref = reference(name)
    x = ms.Tensor(ref["input"])
    raw_loc, _ = fixture_network.network(x)
    boxes, scores = fixture_network(x)
    np.testing.assert_allclose(raw_loc.asnumpy()[0], ref["raw_loc"], rtol=0, atol=1e-4)
    np.testing.assert_allclose(boxes.asnumpy()[0], ref["boxes"], rtol=0, atol=1e-4)
    np.testing.assert_allclose(scores.asnumpy()[0][ref["rows"]], ref["scores_rows"], rtol=0, atol=1e-4)


def test_detection_path_reproduces_reference_detections(fixture_network):
    ref = reference("reference_seed0_coco439180.npz")
    boxes, scores = fixture_network(ms.Tensor(ref["input"]))
    ours = postprocess(boxes.asnumpy()[0], scores.asnumpy()[0], tuple(ref["image_hw"]))
    theirs = ref["detections"]
    per_class = lambda rows: np.bincount(rows[:, 0].astype(int), minlength=81)  # noqa: E731
    assert np.array_equal(per_class(ours), per_class(theirs))
    matched = 0
    for label in np.unique(theirs[:, 0]):
        mine, want = ours[ours[:, 0] == label], theirs[theirs[:, 0] == label]
        close_box = np.abs(mine[None, :, 2:] - want[:, None, 2:]).max(axis=2) <= 0.5
        close_score = np.abs(mine[None, :, 1] - want[:, None, 1]) <= 1e-4
        matched += int((close_box & close_score).any(axis=1).sum())
    assert matched >= 0.99 * len(theirs)


def test_preprocessing_reproduces_reference_input():
    ref = reference("reference_seed0_coco439180.npz")
    tensor, rgb = preprocess(shared_path("data", "coco_val2017_sample", "000000439180.jpg"))
    assert rgb.shape[:2] == tuple(ref["image_hw"])
    assert np.abs(tensor - ref["input"][0]).max() <= 0.02


def test_training_checkpoint_loads_with_nothing_left(manifest, fixture_params, tmp_path):
    """The published file is a training checkpoint: 355 tensors plus optimizer state."""
    entries = [{"name": n, "data": ms.Tensor(a)} for n, a in fixture_params.items()]
    for name, shape in manifest["training_extra"].items():
        entries.append({"name": name, "data": ms.Tensor(np.zeros(shape, np.float32))})
    assert len(entries) == manifest["counts"]["training_checkpoint_tensors"]
    path = tmp_path / "training.ckpt"
    ms.save_checkpoint(entries, str(path))

    network = create_network("ssd_resnet50")
    not_loaded, _ = ms.load_param_into_net(network, ms.load_checkpoint(str(path)), strict_load=True)
    assert not_loaded == []
    assert load_weights(create_network("ssd_resnet50"), path) == []


def test_strict_loading_names_a_missing_tensor(fixture_params, tmp_path):
    dropped = "network.feature_extractor.resnet.layer3.2.bn2.gamma"
    path = tmp_path / "partial.ckpt"
    ms.save_checkpoint([{"name": n, "data": ms.Tensor(a)} for n, a in fixture_params.items() if n != dropped],
                       str(path))
    with pytest.raises(CheckpointMismatch, match=dropped.replace(".", r"\.")):
        load_weights(create_network("ssd_resnet50"), path)


def test_strict_loading_names_a_dtype_mismatch(fixture_params, tmp_path):
    half = "network.multi_box.multi_loc_layers.4.3.bias"
    path = tmp_path / "half.ckpt"
    ms.save_checkpoint([{"name": n, "data": ms.Tensor(a.astype(np.float16) if n == half else a)}
                        for n, a in fixture_params.items()], str(path))
    with pytest.raises(CheckpointMismatch, match=half.replace(".", r"\.") + ": checkpoint dtype Float16"):
        load_weights(create_network("ssd_resnet50"), path)


def test_create_network_names_and_options():
    assert isinstance(create_network("SSD_ResNet50"), SsdInference)
    with pytest.raises(ValueError, match="ssd_resnet50"):
        create_network("ssd_mobilenet")
    with pytest.raises(TypeError, match="unknown options"):
        create_network("ssd_resnet50", num_class=3)

    training = create_network("ssd_resnet50", is_training=True, num_classes=3, image_size=256)
    assert isinstance(training, SsdTraining)
    shapes = {p.name: tuple(p.shape) for p in training.get_parameters()}
    assert shapes["network.multi_box.multi_cls_layers.0.3.weight"] == (18, 512, 1, 1)
    assert shapes["network.multi_box.multi_loc_layers.4.3.bias"] == (24,)
    loc, logits = training(ms.Tensor(np.zeros((1, 3, 256, 256), np.float32)))
    assert loc.shape == (1, training.config.num_anchors, 4)
    assert logits.shape == (1, training.config.num_anchors, 3)


def test_inference_outputs_boxes_in_unit_range_and_sigmoid_scores(fixture_network):
    boxes, scores = fixture_network(ms.Tensor(reference(REFERENCES[0])["input"]))
    boxes, scores = boxes.asnumpy(), scores.asnumpy()
    assert boxes.min() >= 0 and boxes.max() <= 1
    assert (boxes[..., 2:] >= boxes[..., :2]).all()
    assert scores.min() > 0 and scores.max() < 1
