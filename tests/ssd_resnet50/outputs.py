"""Comparing what two backends give: the shared reference inputs, detections as sets, matching."""
import numpy as np


def reference_input(name, npz):
    if "input" in npz.files:
        return npz["input"]
    assert "default_rng(1234).standard_normal((1,3,640,640))" in str(npz["note"])
    return np.random.default_rng(1234).standard_normal((1, 3, 640, 640)).astype(np.float32)


def as_set(detections):
    """Rows [label, score, x, y, w, h] in a canonical order (label, then position)."""
    rows = np.array([[d.label, d.score, *d.box] for d in detections])
    return rows[np.lexsort((rows[:, 3].round(2), rows[:, 2].round(2), rows[:, 0]))]


def assert_same_detections(found, expected):
    """The same detections (label, box within 1e-3 px, score within 1e-5), in any order."""
    assert len(found) == len(expected) > 0
    # Scores differ by ~1e-7, so two boxes of a class whose scores tie that closely may swap
    # places in the list; the detections themselves must be the same.
    found, expected = as_set(found), as_set(expected)
    np.testing.assert_array_equal(found[:, 0], expected[:, 0])
    np.testing.assert_allclose(found[:, 2:], expected[:, 2:], rtol=0, atol=1e-3)
    np.testing.assert_allclose(found[:, 1], expected[:, 1], rtol=0, atol=1e-5)


def iou(box, boxes):
    """IoU of one [x, y, w, h] box with each row of boxes [K, 4]."""
    x1, y1 = np.maximum(box[0], boxes[:, 0]), np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[0] + box[2], boxes[:, 0] + boxes[:, 2])
    y2 = np.minimum(box[1] + box[3], boxes[:, 1] + boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    return inter / (box[2] * box[3] + boxes[:, 2] * boxes[:, 3] - inter)


def matched_fraction(reference, other, min_iou=0.9) -> float:
    """The share of `reference` rows [label, score, x, y, w, h] that `other` has too: a row of the
    same label with IoU >= min_iou (each row of `other` matched once)."""
    reference, other = np.asarray(reference, np.float64).reshape(-1, 6), np.asarray(other, np.float64).reshape(-1, 6)
    if not len(reference):
        return 1.0
    used = np.zeros(len(other), bool)
    matched = 0
    for row in reference[np.argsort(-reference[:, 1])]:
        candidates = np.flatnonzero((other[:, 0] == row[0]) & ~used)
        if candidates.size:
            overlaps = iou(row[2:], other[candidates, 2:])
            best = int(np.argmax(overlaps))
            if overlaps[best] >= min_iou:
                used[candidates[best]] = True
                matched += 1
    return matched / len(reference)
