"""Network outputs -> detections: per-class score threshold and greedy NMS, vectorised.

The rules are the original evaluation's: classes 1..C-1, score > threshold, boxes scaled to
the original image in pixels, greedy NMS at IoU 0.6 with the "+1 pixel" area convention,
at most 100 detections a class.

Greedy NMS keeps box i iff no earlier-kept box (higher score) overlaps it above the threshold.
Instead of a Python loop over boxes, the decision for all classes at once is the fixed point
of `keep = not any(keep[j] and overlap[j, i] for j < i)`, reached in as many matrix steps as
the longest suppression chain. Only the best `candidates` boxes of a class are examined: the
first k kept among them are exactly the first k kept overall, so the window grows only when
a class has not yet reached its limit and has boxes left.
"""
import numpy as np

from ..model.config import DEFAULT_CONFIG, SsdConfig

MAX_WINDOW = 1024  # boxes a class examines in the matrix form before going one box at a time
ELEMENT_BUDGET = 1 << 22  # box pairs in one matrix batch (about 25 bytes a pair at the peak)


def overlaps_above(boxes: np.ndarray, others: np.ndarray, iou_threshold: float) -> np.ndarray:
    """[..., K, M] bool: IoU of (y1, x1, y2, x2) pixel boxes [..., K, 4] with [..., M, 4]
    ("+1 pixel" areas) above the threshold.

    Tested as inter > t * union (no division), in place: this is the hot loop of post-processing.
    """
    inter = _overlap_1d(boxes[..., 0], boxes[..., 2], others[..., 0], others[..., 2])
    inter *= _overlap_1d(boxes[..., 1], boxes[..., 3], others[..., 1], others[..., 3])
    union = _area(boxes)[..., :, None] + _area(others)[..., None, :]
    union -= inter
    union *= iou_threshold
    return inter > union


def _area(boxes):
    return (boxes[..., 3] - boxes[..., 1] + 1) * (boxes[..., 2] - boxes[..., 0] + 1)


def _overlap_1d(low, high, other_low, other_high):
    extent = np.minimum(high[..., :, None], other_high[..., None, :])
    extent -= np.maximum(low[..., :, None], other_low[..., None, :])
    extent += 1
    return np.maximum(extent, 0, out=extent)


def greedy_keep(boxes: np.ndarray, valid: np.ndarray, iou_threshold: float) -> np.ndarray:
    """[G, K, 4] boxes sorted by score, [G, K] valid -> [G, K] kept by greedy NMS."""
    count = boxes.shape[1]
    earlier = np.triu(np.ones((count, count), dtype=bool), k=1)  # only earlier boxes suppress
    suppresses = (overlaps_above(boxes, boxes, iou_threshold) & earlier & valid[:, :, None]).astype(np.float32)
    keep = valid.copy()
    while True:
        hits = np.matmul(keep[:, None, :].astype(np.float32), suppresses)[:, 0, :]
        new_keep = valid & (hits == 0)
        if np.array_equal(new_keep, keep):
            return keep
        keep = new_keep


def greedy_sequential(boxes: np.ndarray, scores: np.ndarray, score_threshold: float, iou_threshold: float,
                      limit: int):
    """One class, one kept box at a time (at most `limit` steps, memory linear in the boxes).

    For the rare class where thousands of overlapping boxes pass and the matrix form would
    need K x K memory. Returns (box indices, scores), best first.
    """
    candidates = np.flatnonzero(scores > score_threshold)
    order = candidates[np.argsort(-scores[candidates], kind="stable")]
    kept = []
    while order.size and len(kept) < limit:
        best, order = order[0], order[1:]
        kept.append(best)
        order = order[~overlaps_above(boxes[best][None], boxes[order], iou_threshold)[0]]
    kept = np.asarray(kept, dtype=np.int64)
    return kept, scores[kept]


def class_nms(boxes: np.ndarray, scores: np.ndarray, score_threshold: float, iou_threshold: float,
              max_per_class: int, candidates: int = 256):
    """Pixel boxes [N, 4] and scores [N, G] -> (box index, class column, score) arrays.

    Results come class by class, best first within a class. Classes are batched by how many
    boxes pass the threshold (windows of powers of two), so one busy class does not make
    every other class pay for a large window; a batch holds at most ELEMENT_BUDGET overlaps,
    and a class still unfinished at MAX_WINDOW goes to `greedy_sequential`.
    """
    num_boxes = scores.shape[0]
    passing = (scores > score_threshold).sum(axis=0)
    window = np.minimum(_next_power_of_two(passing), _next_power_of_two(max(candidates, max_per_class)))
    window = np.minimum(window, num_boxes)
    found = []
    pending = np.flatnonzero(passing)
    while pending.size:
        size = window[pending].min()
        groups = pending[window[pending] == size][: max(1, ELEMENT_BUDGET // size ** 2)]
        columns = np.ascontiguousarray(scores.T[groups])  # [g, N]
        order = _top_indices(columns, size)  # [g, size], best first
        top_scores = np.take_along_axis(columns, order, axis=1)
        keep = greedy_keep(boxes[order], top_scores > score_threshold, iou_threshold)
        kept = np.cumsum(keep, axis=1)
        done = (kept[:, -1] >= max_per_class) | (passing[groups] <= size)
        keep &= (kept <= max_per_class) & done[:, None]
        row, slot = np.nonzero(keep)
        found.append((order[row, slot], groups[row], top_scores[row, slot]))
        for group in groups[~done] if size >= MAX_WINDOW else ():
            index, score = greedy_sequential(boxes, scores[:, group], score_threshold, iou_threshold, max_per_class)
            found.append((index, np.full(index.shape, group), score))
        window[groups[~done]] = min(num_boxes, size * 2)
        pending = np.setdiff1d(pending, groups[done] if size < MAX_WINDOW else groups)
    if not found:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, scores.dtype)
    index, group, score = (np.concatenate(parts) for parts in zip(*found))
    by_class = np.argsort(group, kind="stable")
    return index[by_class], group[by_class], score[by_class]


def _next_power_of_two(counts):
    return np.left_shift(1, np.ceil(np.log2(np.maximum(counts, 16))).astype(np.int64))


def _top_indices(columns: np.ndarray, count: int) -> np.ndarray:
    """Per row of [G, N] scores, the indices of the `count` best, best first (stable)."""
    if count < columns.shape[1]:
        part = np.argpartition(-columns, count - 1, axis=1)[:, :count]
        part.sort(axis=1)  # keep index order among equal scores
        rank = np.argsort(-np.take_along_axis(columns, part, axis=1), axis=1, kind="stable")
        return np.take_along_axis(part, rank, axis=1)
    return np.argsort(-columns, axis=1, kind="stable")


def postprocess(boxes: np.ndarray, scores: np.ndarray, image_hw, config: SsdConfig = DEFAULT_CONFIG,
                score_threshold=None):
    """Decoded boxes [N, 4] (normalised y1, x1, y2, x2) and scores [N, C] of one image ->
    detections [M, 6] float64 rows [label, score, x, y, w, h] in pixels of the original image.
    """
    threshold = config.score_threshold if score_threshold is None else float(score_threshold)
    height, width = image_hw
    pixel_boxes = boxes.astype(np.float64) * np.array([height, width, height, width], np.float64)
    candidates = np.flatnonzero((scores[:, 1:] > threshold).any(axis=1))  # usually a small share
    pixel_boxes, foreground = pixel_boxes[candidates], scores[candidates, 1:]
    index, column, kept_scores = class_nms(pixel_boxes, foreground, threshold, config.nms_iou_threshold,
                                           config.max_detections_per_class)
    kept = pixel_boxes[index]
    return np.column_stack([
        column + 1.0,
        kept_scores.astype(np.float64),
        kept[:, 1],
        kept[:, 0],
        kept[:, 3] - kept[:, 1],
        kept[:, 2] - kept[:, 0],
    ])
