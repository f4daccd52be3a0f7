"""The user API: any image kind, batches, bad inputs, labels."""
import io

import numpy as np
import pytest
from PIL import Image

from ssd_resnet50.model.categories import COCO
from ssd_resnet50.inference.detector import Detection, Detector
from ssd_resnet50.inference.preprocess import ImageError, load_rgb
from tests.shared_files import shared_path


@pytest.fixture(scope="module")
def photos():
    folder = shared_path("data", "coco_val2017_sample")
    return [folder / "000000439180.jpg", folder / "000000142238.jpg"]


def rows(detections):
    return np.array([[d.label, d.score, *d.box] for d in detections]).reshape(-1, 6)


def canonical(table):
    """Rows ordered by label then box: two detections whose scores differ in the 7th digit
    (float sums of a batch of 3 against one of 1) may swap places in score order."""
    keys = np.round(table[:, [5, 4, 3, 2, 0]], 2)
    return table[np.lexsort(keys.T)]


def assert_same(a, b, atol=1e-4):
    a, b = canonical(rows(a)), canonical(rows(b))
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=0, atol=atol)


def test_detections_carry_coco_ids_and_names(fixture_detector, photos):
    detections = fixture_detector.detect(photos[0])
    assert detections and all(isinstance(d, Detection) for d in detections)
    for det in detections[:50]:
        assert det.category_id == COCO.ids[det.label - 1]
        assert det.category_name == COCO.names[det.label - 1]
        x, y, w, h = det.box
        assert 0 <= x <= x + w <= 640 and 0 <= y <= y + h <= 360
    entry = detections[0].to_coco(439180)
    assert set(entry) == {"image_id", "category_id", "bbox", "score"}


def test_mixed_size_batch_equals_one_at_a_time(fixture_network, photos):
    detector = Detector(fixture_network, backend="mindspore", score_threshold=0.5, batch_size=3)
    rng = np.random.default_rng(0)
    images = [photos[0], photos[1], (rng.uniform(0, 255, (123, 321, 3))).astype(np.uint8)]
    batched = detector.detect_batch(images)
    for image, result in zip(images, batched):
        assert result.ok
        assert_same(result.detections, detector.detect(image))


def test_image_kinds_agree(fixture_network, photos):
    detector = Detector(fixture_network, backend="mindspore", score_threshold=0.5)
    rgb = load_rgb(photos[0])
    expected = detector.detect(rgb)
    assert expected
    assert_same(detector.detect(Image.fromarray(rgb)), expected)
    assert_same(detector.detect(str(photos[0])), expected)
    png = io.BytesIO()
    Image.fromarray(rgb).save(png, format="PNG")
    assert_same(detector.detect(png.getvalue()), expected)
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 77, np.uint8)])
    assert_same(detector.detect(rgba), expected)
    assert_same(detector.detect(rgb.astype(np.uint16) * 257), expected)  # 16-bit, same picture
    assert_same(detector.detect(rgb.astype(np.float32)), expected)  # floats on the 0-255 scale
    assert_same(detector.detect(rgb.astype(np.float32) / 255), expected)  # floats on the 0-1 scale

    gray = rgb[:, :, 1]
    as_rgb = detector.detect(np.repeat(gray[:, :, None], 3, axis=2))
    assert_same(detector.detect(gray), as_rgb)
    assert_same(detector.detect(Image.fromarray(gray, mode="L")), as_rgb)


def test_bad_inputs_are_named_and_do_not_spoil_the_batch(fixture_detector, photos, tmp_path):
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(photos[0].read_bytes()[:200])
    missing = tmp_path / "missing.jpg"
    results = fixture_detector.detect_batch([photos[0], corrupt, missing, np.zeros((4, 4, 7))])
    assert [r.ok for r in results] == [True, False, False, False]
    assert "corrupt.jpg" in results[1].error and "missing.jpg" in results[2].error
    assert "shape" in results[3].error
    assert_same(results[0].detections, fixture_detector.detect(photos[0]))
    with pytest.raises(ImageError, match="corrupt.jpg"):
        fixture_detector.detect(corrupt)


def test_custom_labels_need_the_matching_class_count(fixture_network, fixture_checkpoint):
    with pytest.raises(ValueError, match="2 labels do not fit a network with 80 object classes"):
        Detector(fixture_network, labels=["cat", "dog"], backend="mindspore")
    # Two labels make a 3-class network, which the 81-class checkpoint does not fit: named.
    with pytest.raises(ValueError, match=r"multi_cls_layers\.0\.3\.weight: checkpoint shape \(486, 512, 1, 1\)"):
        Detector.from_checkpoint(fixture_checkpoint, labels=["cat", "dog"], backend="mindspore")


@pytest.fixture(scope="module")
def fine_tuned_run(tmp_path_factory):
    """A 3-class checkpoint (random weights, 64 px) in a training run folder whose labels.json
    gives its data set's category ids (7 and 3, not 1 and 2)."""
    import mindspore
    from ssd_resnet50.model.categories import LabelSet, save_label_set
    from ssd_resnet50.model.network import create_network

    run = tmp_path_factory.mktemp("run")
    mindspore.set_seed(0)
    mindspore.save_checkpoint(create_network(num_classes=3, image_size=64), str(run / "last.ckpt"))
    save_label_set(LabelSet((7, 3), ("square", "disc")), run / "labels.json")
    return run


def test_a_fine_tuned_checkpoint_takes_its_runs_labels(fine_tuned_run, photos):
    from ssd_resnet50.model.checkpoint import load_network

    checkpoint = fine_tuned_run / "last.ckpt"
    detector = Detector.from_checkpoint(checkpoint, image_size=64, backend="mindspore", score_threshold=0.0)
    assert detector.labels.ids == (7, 3) and detector.labels.names == ("square", "disc")
    found = detector.detect(photos[0])
    assert found and {d.category_id for d in found} <= {7, 3}
    assert {(d.category_id, d.category_name) for d in found} <= {(7, "square"), (3, "disc")}
    assert load_network(checkpoint, image_size=64).config.num_classes == 3
    # Labels given by the caller win.
    named = Detector.from_checkpoint(checkpoint, image_size=64, labels=["a", "b"], backend="mindspore")
    assert named.labels.ids == (1, 2) and named.labels.names == ("a", "b")


def test_a_damaged_labels_json_is_named(fine_tuned_run, tmp_path):
    import shutil

    shutil.copy(fine_tuned_run / "last.ckpt", tmp_path / "last.ckpt")
    (tmp_path / "labels.json").write_text('[{"label": 1, "name": "square"}]')
    with pytest.raises(ValueError, match=r"labels\.json: not a labels\.json of a training run"):
        Detector.from_checkpoint(tmp_path / "last.ckpt", image_size=64, backend="mindspore")


def test_rejects_the_training_network():
    from ssd_resnet50.model.network import create_network

    with pytest.raises(TypeError, match="inference network"):
        Detector(create_network(is_training=True), backend="mindspore")


def test_full_batches_then_one_at_a_time(fixture_network, photos):
    """A compiled backend sees two input shapes only; results keep the input order."""
    detector = Detector(fixture_network, backend="mindspore", score_threshold=0.6, batch_size=3)
    shapes = []
    run = detector.backend

    def spy(batch):
        shapes.append(batch.shape[0])
        return run(batch)

    detector.backend = spy
    inputs = [photos[0], b"broken", photos[1], photos[0], photos[1], photos[0]]
    results = list(detector.iter_detect(inputs, keep_images=True))
    assert shapes == [3, 1, 1]  # the last two one at a time, not as a new batch shape of 2
    assert [r.ok for r in results] == [True, False, True, True, True, True]
    assert results[0].image.shape == (360, 640, 3) and results[1].image is None
    assert_same(results[3].detections, results[0].detections)
