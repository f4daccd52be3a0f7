"""COCO-format reading, labels, the training pipeline, sharding and augmentation."""
import json
import logging
import os

import numpy as np
import pytest

from ssd_resnet50.model.anchors import default_anchors
from ssd_resnet50.training.augment import TrainAugmentation, colour_jitter, crop_accepted, random_crop, random_flip
from ssd_resnet50.model.codec import decode
from ssd_resnet50.model.config import DEFAULT_CONFIG
from ssd_resnet50.model.categories import coco_label_set, load_label_set, save_label_set
from ssd_resnet50.training.datasets import CocoDetectionSource
from ssd_resnet50.training.pipeline import create_train_dataset
from ssd_resnet50.inference.preprocess import ImageError, normalise, read_image
from ssd_resnet50.cli import main as cli_main
from tests.shared_files import shared_path
from tests.ssd_resnet50.synthetic import make_shapes_dataset


def expected_boxes(annotation_file, category_ids):
    """{file name: [(category id, [x, y, w, h]), ...]} of usable boxes, read with plain json."""
    with open(annotation_file) as f:
        data = json.load(f)
    names = {image["id"]: image["file_name"] for image in data["images"]}
    found = {}
    for ann in data["annotations"]:
        if not ann["iscrowd"] and ann["category_id"] in category_ids:
            found.setdefault(names[ann["image_id"]], []).append((ann["category_id"], ann["bbox"]))
    return found


def batches(dataset):
    return list(dataset.create_tuple_iterator(output_numpy=True))


def test_reader_labels_follow_the_file_and_drop_crowd_and_empty_images(shapes_coco):
    annotations, images = shapes_coco
    source = CocoDetectionSource(annotations, images)
    assert source.labels.names == ("square", "disc", "triangle")
    assert source.labels.ids == (7, 3, 11)
    expected = expected_boxes(annotations, {7, 3, 11})
    assert len(source) == len(expected) == 8  # 9 images, one without boxes
    label_of = {7: 1, 3: 2, 11: 3}
    for index, (file_name, _) in enumerate(source.records):
        sample = source.sample(index)
        boxes = expected[file_name]
        assert sample.image.shape == (96, 96, 3) and sample.image.dtype == np.uint8
        assert sample.labels.tolist() == [label_of[category] for category, _ in boxes]
        x, y, w, h = np.array([box for _, box in boxes]).T
        np.testing.assert_allclose(sample.boxes, np.stack([y, x, y + h, x + w], 1) / 96, atol=1e-6)
    # the crowd box of image 1 is no target: the reader keeps only its non-crowd boxes
    assert source.records[0][0] == "0000.png" and len(source.sample(0).labels) == len(expected["0000.png"])


def test_class_selection_by_name_or_id_sets_the_label_order(shapes_coco):
    annotations, images = shapes_coco
    source = CocoDetectionSource(annotations, images, classes=["disc", "7"])
    assert source.labels.names == ("disc", "square") and source.labels.num_classes == 3
    expected = expected_boxes(annotations, {3, 7})
    assert len(source) == len(expected)
    for index, (file_name, _) in enumerate(source.records):
        assert source.sample(index).labels.tolist() == [1 if c == 3 else 2 for c, _ in expected[file_name]]
    with pytest.raises(ValueError, match="unknown classes.*hexagon"):
        CocoDetectionSource(annotations, images, classes=["hexagon"])


@pytest.fixture
def one_bad_image(tmp_path):
    """A generated set of 6 images whose third file holds garbage -> (json, image dir, bad path)."""
    annotations, images = make_shapes_dataset(str(tmp_path / "shapes"), num_images=6, image_size=64, seed=4)
    bad = os.path.join(images, "0002.png")
    with open(bad, "wb") as f:
        f.write(b"not an image, just some bytes " * 10)
    return annotations, images, bad


def warnings_naming(caplog, text):
    return [r for r in caplog.records if r.levelno == logging.WARNING and text in r.getMessage()]


def test_an_unreadable_image_is_reported_once_and_replaced(one_bad_image, caplog):
    annotations, images, bad = one_bad_image
    source = CocoDetectionSource(annotations, images)
    names = [name for name, _ in source.records]
    config = DEFAULT_CONFIG.with_options(image_size=32, num_classes=source.labels.num_classes)
    with caplog.at_level(logging.WARNING, logger="ssd_resnet50.training.datasets.source"):
        for _ in range(2):  # two epochs: one warning in all
            found = batches(create_train_dataset(source, config, 2, augment=False, shuffle=False))
            assert len(found) == 3
        stand_in = source.sample(names.index("0002.png"))
    assert len(warnings_naming(caplog, bad)) == 1
    assert source.unreadable == {"0002.png"}
    # the next image takes its place
    np.testing.assert_array_equal(stand_in.image, read_image(os.path.join(images, "0003.png")))
    np.testing.assert_array_equal(found[1][0][0], normalise(stand_in.image, config))


def test_when_no_image_reads_the_error_says_so(one_bad_image):
    annotations, images, _ = one_bad_image
    source = CocoDetectionSource(annotations, images)
    for name, _ in source.records:
        with open(os.path.join(images, name), "wb") as f:
            f.write(b"garbage")
    with pytest.raises(ImageError, match="none of the 6 training images .* can be read"):
        source.sample(0)


def test_missing_image_files_are_left_out_at_start_up(one_bad_image, caplog):
    annotations, images, _ = one_bad_image
    os.remove(os.path.join(images, "0004.png"))
    with caplog.at_level(logging.WARNING, logger="ssd_resnet50.training.datasets.source"):
        source = CocoDetectionSource(annotations, images)
    assert [name for name, _ in source.records] == ["0000.png", "0001.png", "0002.png", "0003.png", "0005.png"]
    assert len(warnings_naming(caplog, "1 of 6 training images are missing")) == 1
    assert "0004.png" in warnings_naming(caplog, "missing")[0].getMessage()
    for name in os.listdir(images):
        os.remove(os.path.join(images, name))
    with pytest.raises(ValueError, match="none of the 6 images with boxes is in"):
        CocoDetectionSource(annotations, images)


def test_training_runs_past_a_corrupt_image(one_bad_image, tmp_path, caplog):
    annotations, images, bad = one_bad_image
    out = tmp_path / "run"
    with caplog.at_level(logging.WARNING, logger="ssd_resnet50.training.datasets.source"):
        code = cli_main(["train", "--annotations", annotations, "--images", images, "--image-size", "32",
                         "--batch-size", "2", "--epochs", "1", "--no-augment", "--out", str(out)])
    assert code == 0
    assert len(warnings_naming(caplog, bad)) == 1
    assert len(open(out / "history.jsonl").read().splitlines()) == 3
    assert os.listdir(out).count("ssd_resnet50-1_3.ckpt") == 1


def test_label_set_survives_a_round_trip(tmp_path):
    labels = coco_label_set([{"id": 5, "name": "a"}, {"id": 2, "name": "b"}, {"id": 9, "name": "c"}], ["c", "a"])
    save_label_set(labels, tmp_path / "labels.json")
    assert load_label_set(tmp_path / "labels.json") == labels
    assert labels.ids == (9, 5) and labels.names == ("c", "a")


def test_pipeline_batches_images_and_anchor_targets(shapes_coco):
    annotations, images = shapes_coco
    source = CocoDetectionSource(annotations, images)
    config = DEFAULT_CONFIG.with_options(image_size=64, num_classes=source.labels.num_classes)
    anchors = default_anchors(config)
    found = batches(create_train_dataset(source, config, batch_size=3, augment=False, shuffle=False))
    assert len(found) == 2  # 8 images, full batches only
    for step, (image, loc, labels) in enumerate(found):
        assert image.shape == (3, 3, 64, 64) and image.dtype == np.float32
        assert loc.shape == (3, len(anchors), 4) and labels.shape == (3, len(anchors)) and labels.dtype == np.int32
        for row in range(3):
            sample = source.sample(step * 3 + row)
            np.testing.assert_allclose(image[row], normalise(sample.image, config), atol=1e-5)
            positive = labels[row] > 0
            assert set(np.unique(labels[row][positive])) <= set(sample.labels.tolist())
            assert positive.sum() >= len(set(sample.labels.tolist()))
            decoded = decode(loc[row][positive], anchors[positive])
            # every positive decodes onto one of the image's boxes
            error = np.abs(decoded[:, None, :] - sample.boxes[None]).max(-1).min(-1)
            assert error.max() < 1e-4


def test_shards_split_the_images(shapes_coco):
    annotations, images = shapes_coco
    source = CocoDetectionSource(annotations, images)
    config = DEFAULT_CONFIG.with_options(image_size=32, num_classes=source.labels.num_classes)
    seen = []
    for shard in range(2):
        dataset = create_train_dataset(source, config, 1, augment=False, shuffle=True, seed=5, num_shards=2,
                                       shard_id=shard)
        seen.append({image.tobytes() for image, _, _ in batches(dataset)})
    everything = {image.tobytes() for image, _, _ in batches(create_train_dataset(source, config, 1, augment=False))}
    assert len(seen[0]) == len(seen[1]) == 4
    assert not seen[0] & seen[1] and seen[0] | seen[1] == everything


def test_augmented_pipeline_repeats_with_its_seed(shapes_coco):
    annotations, images = shapes_coco
    source = CocoDetectionSource(annotations, images)
    config = DEFAULT_CONFIG.with_options(image_size=48, num_classes=source.labels.num_classes)

    def run(seed):
        dataset = create_train_dataset(source, config, 4, augment=TrainAugmentation(seed=seed), shuffle=False)
        return batches(dataset)

    first, again, other = run(1), run(1), run(2)
    for a, b in zip(first, again):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
    assert any(not np.array_equal(a[0], b[0]) for a, b in zip(first, other))
    plain = batches(create_train_dataset(source, config, 4, augment=False, shuffle=False))
    assert any(not np.array_equal(a[0], b[0]) for a, b in zip(first, plain))


def painted(height, width, boxes_px):
    """A grey image with white rectangles; boxes as pixel (y1, x1, y2, x2), end exclusive."""
    image = np.full((height, width, 3), 60, np.uint8)
    for y1, x1, y2, x2 in boxes_px:
        image[y1:y2, x1:x2] = 255
    return image


def white_extent(image, box):
    """Pixel extent (y1, x1, y2, x2) of the white pixels inside a normalised box (grown by 2 px)."""
    height, width = image.shape[:2]
    y1, x1 = max(int(box[0] * height) - 2, 0), max(int(box[1] * width) - 2, 0)
    y2, x2 = int(np.ceil(box[2] * height)) + 2, int(np.ceil(box[3] * width)) + 2
    ys, xs = np.nonzero(image[y1:y2, x1:x2, 0] == 255)
    return np.array([ys.min() + y1, xs.min() + x1, ys.max() + y1 + 1, xs.max() + x1 + 1])


def test_crop_and_flip_move_boxes_with_the_pixels():
    height, width = 120, 160
    boxes_px = np.array([[10, 20, 50, 60], [70, 90, 110, 150]])
    boxes = (boxes_px / [height, width, height, width]).astype(np.float32)
    cropped = 0
    for seed in range(12):
        rng = np.random.default_rng(seed)
        image, out_boxes, out_labels = random_crop(painted(height, width, boxes_px), boxes, np.array([1, 2]), rng,
                                                   min_ious=(0.1, 0.3))
        cropped += image.shape[:2] != (height, width)
        image, out_boxes = random_flip(image, out_boxes, rng, probability=0.5)
        assert 1 <= len(out_boxes) == len(out_labels) and set(out_labels) <= {1, 2}
        assert (out_boxes >= 0).all() and (out_boxes <= 1).all()
        assert (out_boxes[:, 2:] > out_boxes[:, :2]).all()
        h, w = image.shape[:2]
        assert h >= 0.3 * height - 1 and w >= 0.3 * width - 1 and 0.5 <= h / w <= 2.0 + 0.05
        for box in out_boxes:
            np.testing.assert_allclose(white_extent(image, box), box * [h, w, h, w], atol=1e-3)
    assert cropped >= 4


def test_crop_acceptance_follows_the_original_rule():
    # refused only when the least-overlapped touched box is under min_iou while the most-overlapped
    # is over min_iou + 0.2; untouched boxes (IoU 0) do not count, and some box must be touched
    assert not crop_accepted([0.05, 0.95], 0.3)
    assert crop_accepted([0.0, 0.95], 0.3)  # the untouched box does not count
    assert crop_accepted([0.3], 0.5)  # below min_iou, but not above 0.7: accepted
    assert crop_accepted([0.05, 0.7], 0.5)
    assert not crop_accepted([0.05, 0.71], 0.5)
    assert crop_accepted([0.4, 0.95], 0.3)  # every touched box reaches min_iou
    assert crop_accepted([0.01, 0.44], 0.9)  # with 0.9 any touching patch passes
    assert not crop_accepted([0.0, 0.0], 0.1)


class ScriptedRandom:
    """Stands in for numpy's Generator in random_crop: `integers` picks `choice`, each
    `uniform(low, high)` takes the next fraction f of its range (low + f * (high - low))."""

    def __init__(self, choice, fractions):
        self.choice, self.fractions = choice, list(fractions)

    def integers(self, n):
        return self.choice

    def uniform(self, low, high, size=None):
        count = 1 if size is None else size
        values = [low + self.fractions.pop(0) * (high - low) for _ in range(count)]
        return values[0] if size is None else np.array(values)


def crop_once(boxes_px, fractions, min_iou, size=100):
    """random_crop on a size x size image with white boxes, one trial from scripted draws:
    (patch height, patch width, top, left) as fractions of their ranges."""
    boxes = (np.array(boxes_px, np.float64) / size).astype(np.float32)
    image = painted(size, size, boxes_px)
    return random_crop(image, boxes, np.arange(1, len(boxes) + 1), ScriptedRandom(0, fractions), min_ious=(min_iou,),
                       trials=1)


def test_crop_patch_corners_are_truncated_to_whole_pixels():
    # a 40 x 40 patch whose corner falls at (10.9, 10.9) px starts at pixel 10, as int() gives
    f = 1 / 7  # patch side 0.3 + f * 0.7 = 0.4 -> 40 px; position 10.9 px = f' * 60 px
    image, boxes, labels = crop_once([[10, 10, 50, 50]], [f, f, 10.9 / 60, 10.9 / 60], 0.5)
    assert image.shape[:2] == (40, 40)
    np.testing.assert_allclose(boxes, [[0.0, 0.0, 1.0, 1.0]], atol=1e-6)  # rows 10..50 exactly
    assert labels.tolist() == [1]


def test_crop_takes_patches_the_original_takes_and_refuses_what_it_refuses():
    side60 = [3 / 7, 3 / 7]  # 0.3 + 3/7 * 0.7 = 0.6 -> 60 px
    # patch [0, 0, 60, 60] overlaps the box by IoU 0.44 only, but no touched box is over 0.9 + 0.2
    image, boxes, labels = crop_once([[10, 10, 50, 50]], side60 + [0.0, 0.0], 0.9)
    assert image.shape[:2] == (60, 60) and labels.tolist() == [1]
    np.testing.assert_allclose(boxes, [[10 / 60, 10 / 60, 50 / 60, 50 / 60]], atol=1e-6)
    # patch [0, 0, 50, 50]: one box inside (IoU 1.0), another barely touched (IoU 0.005 < 0.3): refused
    side50 = [2 / 7, 2 / 7]  # 0.5 -> 50 px
    two_boxes = [[0, 0, 50, 50], [45, 45, 100, 100]]
    image, boxes, labels = crop_once(two_boxes, side50 + [0.0, 0.0], 0.3)
    assert image.shape[:2] == (100, 100) and labels.tolist() == [1, 2]  # kept whole
    # the same patch at min IoU 0.9 is taken (no IoU above 1.1); the box whose centre is outside is dropped
    image, boxes, labels = crop_once(two_boxes, side50 + [0.0, 0.0], 0.9)
    assert image.shape[:2] == (50, 50) and labels.tolist() == [1]
    np.testing.assert_allclose(boxes, [[0.0, 0.0, 1.0, 1.0]], atol=1e-6)


def test_crop_without_a_minimum_iou_keeps_the_image():
    image = painted(40, 50, [[5, 5, 20, 20]])
    boxes = np.array([[0.125, 0.1, 0.5, 0.4]], np.float32)
    out = random_crop(image, boxes, np.array([1]), np.random.default_rng(0), min_ious=(None,))
    assert out[0] is image and out[1] is boxes


def test_flip_by_hand():
    image = np.zeros((2, 4, 3), np.uint8)
    image[:, 0] = 255
    flipped, boxes = random_flip(image, np.array([[0.0, 0.0, 1.0, 0.25]], np.float32), np.random.default_rng(0),
                                 probability=1.0)
    assert (flipped[:, 3] == 255).all() and not flipped[:, :3].any()
    np.testing.assert_allclose(boxes, [[0.0, 0.75, 1.0, 1.0]])


def test_colour_jitter_changes_colours_within_bounds():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    np.testing.assert_array_equal(colour_jitter(image, rng, 0.0, 0.0, 0.0), image)
    jittered = [colour_jitter(image, rng) for _ in range(5)]
    assert all(j.shape == image.shape and j.dtype == np.uint8 for j in jittered)
    assert any(np.abs(j.astype(int) - image).mean() > 2 for j in jittered)
    # brightness alone scales every value by one factor in [0.6, 1.4]
    grey = np.full((4, 4, 3), 100, np.uint8)
    assert 59 <= int(colour_jitter(grey, rng, 0.4, 0.0, 0.0)[0, 0, 0]) <= 141


def test_coco_val2017_sample_reads_with_coco_labels():
    folder = shared_path("data", "coco_val2017_sample")
    categories = json.loads(shared_path("spec", "coco_categories.json").read_text())
    source = CocoDetectionSource(folder / "instances.json", folder)
    assert source.labels.ids == tuple(c["id"] for c in categories)  # label k = entry k - 1
    assert source.labels.num_classes == 81
    expected = expected_boxes(folder / "instances.json", set(source.labels.ids))
    assert len(source) == 2 and sum(len(v) for v in expected.values()) == 40  # 43 boxes, 3 crowd
    label_of = {category_id: k for k, category_id in enumerate(source.labels.ids, 1)}
    for index, (file_name, _) in enumerate(source.records):
        sample = source.sample(index)
        assert sample.image.shape == read_image(os.path.join(folder, file_name)).shape
        assert sample.labels.tolist() == [label_of[c] for c, _ in expected[file_name]]
        assert source.labels.name(1) == "person" and 1 in sample.labels

    config = DEFAULT_CONFIG.with_options(image_size=160)
    (image, loc, labels), = batches(create_train_dataset(source, config, 2, augment=True, seed=0))
    assert image.shape == (2, 3, 160, 160) and loc.shape == (2, config.num_anchors, 4)
    assert set(np.unique(labels)) <= {0} | {label_of[c] for boxes in expected.values() for c, _ in boxes}
    assert (labels > 0).sum() > 0 and np.isfinite(loc).all()
