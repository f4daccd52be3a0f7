"""Matching ground truth to anchors: hand-computed cases, a loop reference, encode/decode."""
import numpy as np
import pytest

from ssd_resnet50.model.anchors import anchors_as_corners, default_anchors
from ssd_resnet50.model.codec import decode, encode
from ssd_resnet50.model.config import DEFAULT_CONFIG
from ssd_resnet50.training.matching import iou_matrix, match


def anchor(y1, x1, y2, x2):
    """A [cy, cx, h, w] anchor from corners, to write hand cases as corners."""
    return [(y1 + y2) / 2, (x1 + x2) / 2, y2 - y1, x2 - x1]


def test_iou_by_hand():
    a = np.array([[0.0, 0.0, 0.5, 0.5]])
    b = np.array([[0.0, 0.0, 0.5, 0.5], [0.0, 0.25, 0.5, 0.75], [0.5, 0.5, 1.0, 1.0], [0.1, 0.1, 0.2, 0.2]])
    np.testing.assert_allclose(iou_matrix(a, b), [[1.0, 1 / 3, 0.0, 0.04]], atol=1e-12)


def test_threshold_is_strict_and_there_is_no_ignore_band():
    box = np.array([[0.0, 0.0, 0.5, 0.5]])  # area 0.25
    anchors = np.array([
        anchor(0.0, 0.0, 0.5, 0.5),  # IoU 1: the best anchor
        anchor(0.0, 0.0, 0.5, 1.0),  # IoU 0.25 / 0.5 = 0.5 exactly: not above 0.5
        anchor(0.0, 0.0, 0.5, 0.9),  # IoU 0.25 / 0.45 = 0.556: positive
        anchor(0.0, 0.0, 0.5, 1.25),  # IoU 0.25 / 0.625 = 0.4: background, not "ignored"
        anchor(0.6, 0.6, 0.9, 0.9),  # IoU 0: background
    ], np.float32)
    targets = match(box, [3], anchors)
    assert targets.labels.tolist() == [3, 0, 3, 0, 0]
    assert targets.matched.tolist() == [0, -1, 0, -1, -1]
    assert targets.num_positives == 2
    assert targets.labels.dtype == np.int32 and targets.loc.dtype == np.float32
    np.testing.assert_array_equal(targets.loc[[1, 3, 4]], 0.0)


def test_each_ground_truth_claims_its_best_anchor_even_below_threshold():
    boxes = np.array([[0.0, 0.0, 0.2, 0.2], [0.6, 0.6, 0.7, 0.7]])
    anchors = np.array([
        anchor(0.0, 0.0, 0.4, 0.4),  # IoU 0.25 with box 0: its best
        anchor(0.0, 0.0, 0.6, 0.6),  # IoU 0.11 with box 0
        anchor(0.55, 0.55, 0.85, 0.85),  # IoU 0.11 with box 1: its best
        anchor(0.5, 0.5, 1.0, 1.0),  # IoU 0.04 with box 1
    ], np.float32)
    targets = match(boxes, [1, 2], anchors)
    assert targets.labels.tolist() == [1, 0, 2, 0]
    assert targets.matched.tolist() == [0, -1, 1, -1]
    np.testing.assert_allclose(targets.loc[0], encode(boxes[:1].astype(np.float32), anchors[:1])[0], rtol=1e-6)


def test_an_anchor_goes_to_the_box_it_overlaps_most():
    boxes = np.array([[0.0, 0.0, 0.5, 0.5], [0.0, 0.05, 0.5, 0.55]])
    shared = anchor(0.0, 0.04, 0.5, 0.54)  # IoU 0.852 with box 0, 0.961 with box 1
    anchors = np.array([anchor(0.0, 0.0, 0.5, 0.5), anchor(0.0, 0.05, 0.5, 0.55), shared], np.float32)
    assert match(boxes, [1, 2], anchors).labels.tolist() == [1, 2, 2]


def test_two_boxes_with_the_same_best_anchor_the_earlier_keeps_it():
    boxes = np.array([[0.0, 0.0, 0.3, 0.3], [0.0, 0.0, 0.28, 0.3]])
    anchors = np.array([anchor(0.0, 0.0, 0.3, 0.3), anchor(0.7, 0.7, 1.0, 1.0)], np.float32)
    targets = match(boxes, [1, 2], anchors)
    assert targets.labels.tolist() == [1, 0]
    assert targets.matched.tolist() == [0, -1]


def test_no_ground_truth_means_all_background():
    anchors = default_anchors(DEFAULT_CONFIG.with_options(image_size=64))
    targets = match(np.zeros((0, 4)), np.zeros(0), anchors)
    assert targets.num_positives == 0
    assert targets.loc.shape == (len(anchors), 4) and not targets.loc.any()
    assert (targets.matched == -1).all()


def test_bad_labels_are_refused():
    anchors = default_anchors(DEFAULT_CONFIG.with_options(image_size=64))
    with pytest.raises(ValueError, match="background"):
        match([[0.1, 0.1, 0.5, 0.5]], [0], anchors)
    with pytest.raises(ValueError, match="labels"):
        match([[0.1, 0.1, 0.5, 0.5]], [1, 2], anchors)


def loop_reference(boxes, labels, anchors, threshold):
    """The rule written box by box, as the original's data pipeline did it."""
    corners = anchors_as_corners(anchors).astype(np.float64)
    best = np.zeros(len(anchors))
    label_of = np.zeros(len(anchors), np.int64)
    matched = np.full(len(anchors), -1)
    for index, (box, label) in enumerate(zip(boxes, labels)):
        y1, x1 = np.maximum(corners[:, 0], box[0]), np.maximum(corners[:, 1], box[1])
        y2, x2 = np.minimum(corners[:, 2], box[2]), np.minimum(corners[:, 3], box[3])
        inter = np.clip(y2 - y1, 0, None) * np.clip(x2 - x1, 0, None)
        union = ((corners[:, 2] - corners[:, 0]) * (corners[:, 3] - corners[:, 1])
                 + (box[2] - box[0]) * (box[3] - box[1]) - inter)
        score = inter / union
        score[np.argmax(score)] = 2.0
        take = (score > threshold) & (score > best)
        best[take], label_of[take], matched[take] = score[take], label, index
    return label_of, matched


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vectorised_matching_equals_a_box_by_box_loop(seed):
    rng = np.random.default_rng(seed)
    anchors = default_anchors(DEFAULT_CONFIG.with_options(image_size=160))
    centres, sizes = rng.uniform(0.1, 0.9, (12, 2)), rng.uniform(0.03, 0.6, (12, 2))
    boxes = np.clip(np.concatenate([centres - sizes / 2, centres + sizes / 2], 1), 0, 1).astype(np.float32)
    labels = rng.integers(1, 5, 12)
    targets = match(boxes, labels, anchors)
    expected_labels, expected_matched = loop_reference(boxes.astype(np.float64), labels, anchors, 0.5)
    np.testing.assert_array_equal(targets.labels, expected_labels)
    np.testing.assert_array_equal(targets.matched, expected_matched)
    assert targets.num_positives >= len(set(expected_matched[expected_matched >= 0]))


def test_positive_targets_decode_back_to_their_boxes():
    anchors = default_anchors(DEFAULT_CONFIG.with_options(image_size=128))
    boxes = np.array([[0.1, 0.2, 0.45, 0.5], [0.5, 0.05, 0.95, 0.4], [0.3, 0.6, 0.9, 0.98]], np.float32)
    targets = match(boxes, [1, 2, 1], anchors)
    positive = targets.labels > 0
    assert positive.sum() >= 3
    np.testing.assert_allclose(decode(targets.loc[positive], anchors[positive]), boxes[targets.matched[positive]],
                               atol=1e-5)


def test_encode_decode_round_trip_on_every_anchor():
    rng = np.random.default_rng(7)
    anchors = default_anchors(DEFAULT_CONFIG.with_options(image_size=96))
    top_left = rng.uniform(0.0, 0.6, (len(anchors), 2))
    boxes = np.concatenate([top_left, top_left + rng.uniform(0.01, 0.4, (len(anchors), 2))], 1).astype(np.float32)
    loc = encode(boxes, anchors)
    assert np.isfinite(loc).all()
    np.testing.assert_allclose(decode(loc, anchors), boxes, atol=2e-6)
