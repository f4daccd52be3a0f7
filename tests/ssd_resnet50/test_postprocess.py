"""Post-processing: the vectorised per-class NMS equals a plain greedy loop."""
import numpy as np
import pytest

from ssd_resnet50.model.config import DEFAULT_CONFIG
from ssd_resnet50.inference.postprocess import postprocess


def brute_force(boxes, scores, image_hw, threshold=0.1, iou=0.6, limit=100):
    """The original evaluation's greedy NMS, one box at a time."""
    h, w = image_hw
    rows = []
    for label in range(1, scores.shape[1]):
        mask = scores[:, label] > threshold
        cls_boxes = boxes[mask].astype(np.float64) * [h, w, h, w]
        cls_scores = scores[mask, label]
        order = list(np.argsort(-cls_scores, kind="stable"))
        kept = []
        while order and len(kept) < limit:
            i = order.pop(0)
            kept.append(i)
            y1, x1, y2, x2 = cls_boxes[i]
            survivors = []
            for j in order:
                b = cls_boxes[j]
                ih = max(0.0, min(y2, b[2]) - max(y1, b[0]) + 1)
                iw = max(0.0, min(x2, b[3]) - max(x1, b[1]) + 1)
                inter = ih * iw
                union = (x2 - x1 + 1) * (y2 - y1 + 1) + (b[3] - b[1] + 1) * (b[2] - b[0] + 1) - inter
                if inter / union <= iou:
                    survivors.append(j)
            order = survivors
        for i in kept:
            y1, x1, y2, x2 = cls_boxes[i]
            rows.append([label, cls_scores[i], x1, y1, x2 - x1, y2 - y1])
    return np.array(rows).reshape(-1, 6)


def random_case(seed, boxes=3000, classes=4, clustered=True):
    rng = np.random.default_rng(seed)
    if clustered:  # many heavy overlaps, long suppression chains
        centres = rng.uniform(0.1, 0.9, (12, 2))[rng.integers(12, size=boxes)] + rng.normal(0, 0.02, (boxes, 2))
    else:
        centres = rng.uniform(0, 1, (boxes, 2))
    sizes = rng.uniform(0.02, 0.3, (boxes, 2))
    corner = np.clip(np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=1), 0, 1).astype(np.float32)
    scores = rng.uniform(0, 1, (boxes, classes)).astype(np.float32) ** rng.uniform(1, 6)
    return corner, scores


@pytest.mark.parametrize("seed,clustered", [(0, True), (1, False), (2, True), (3, False)])
def test_nms_equals_brute_force(seed, clustered):
    boxes, scores = random_case(seed, clustered=clustered)
    ours = postprocess(boxes, scores, (480, 640))
    expected = brute_force(boxes, scores, (480, 640))
    assert ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-6)


def test_limit_and_window_growth():
    """Far-apart boxes never suppress each other: each class hits its limit of 100."""
    grid = np.stack(np.meshgrid(np.arange(30), np.arange(30), indexing="ij"), -1).reshape(-1, 2) / 30
    boxes = np.concatenate([grid, grid + 0.02], axis=1).astype(np.float32)
    scores = np.random.default_rng(5).uniform(0.2, 1, (900, 3)).astype(np.float32)
    ours = postprocess(boxes, scores, (300, 300))
    assert np.bincount(ours[:, 0].astype(int)).tolist() == [0, 100, 100]
    np.testing.assert_allclose(ours, brute_force(boxes, scores, (300, 300)), atol=1e-6)


def test_nothing_above_threshold():
    boxes, scores = random_case(7)
    assert postprocess(boxes, scores * 0.05, (100, 100)).shape == (0, 6)


def test_threshold_override():
    boxes, scores = random_case(8, clustered=False)
    ours = postprocess(boxes, scores, (100, 100), DEFAULT_CONFIG, score_threshold=0.5)
    assert ours[:, 1].min() > 0.5
    np.testing.assert_allclose(ours, brute_force(boxes, scores, (100, 100), threshold=0.5), atol=1e-6)


def test_one_box_at_a_time_beyond_the_window_equals_brute_force(monkeypatch):
    """Classes unfinished at MAX_WINDOW continue box by box; force that path on a small case."""
    import ssd_resnet50.inference.postprocess as post

    monkeypatch.setattr(post, "MAX_WINDOW", 32)
    monkeypatch.setattr(post, "ELEMENT_BUDGET", 32 * 32 * 2)  # two classes a matrix batch
    boxes, scores = random_case(11, boxes=2000, classes=5)
    np.testing.assert_allclose(postprocess(boxes, scores, (480, 640)), brute_force(boxes, scores, (480, 640)),
                               rtol=0, atol=1e-6)


def test_tens_of_thousands_of_overlapping_boxes_in_one_class():
    """One large object predicted by every anchor: memory stays linear, the result is exact."""
    distinct = np.array([[0.1, 0.1, 0.3, 0.3], [0.5, 0.5, 0.9, 0.9], [0.1, 0.6, 0.4, 0.95]], np.float32)
    copies = 15000
    boxes = np.repeat(distinct, copies, axis=0)
    scores = np.zeros((len(boxes), 2), np.float32)
    scores[:, 1] = np.random.default_rng(3).uniform(0.2, 0.9, len(boxes))
    rows = postprocess(boxes, scores, (100, 100))
    assert rows.shape == (3, 6)  # identical boxes suppress each other: one survivor per distinct box
    best = scores[:, 1].reshape(3, copies).max(axis=1)
    np.testing.assert_allclose(np.sort(rows[:, 1]), np.sort(best), rtol=0, atol=0)
