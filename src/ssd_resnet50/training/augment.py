"""Training augmentation of the original recipe: SSD random crop, horizontal flip, colour jitter.

Every function takes an RGB uint8 image [H, W, 3], boxes [M, 4] as normalised corners
(y1, x1, y2, x2) and labels [M], and a `numpy.random.Generator`, so a seeded pipeline
repeats itself exactly.

    >>> augment = TrainAugmentation(seed=0)
    >>> image, boxes, labels = augment(image, boxes, labels)
"""
import numpy as np

from .matching import iou_matrix

CROP_MIN_IOUS = (None, 0.1, 0.3, 0.5, 0.7, 0.9)  # None: keep the whole image
CROP_TRIALS = 50
CROP_MIN_SCALE = 0.3  # each side of the patch is at least this fraction of the image's
CROP_MAX_ASPECT = 2.0  # patch height / width (in pixels) within [1/2, 2]
CROP_IOU_SLACK = 0.2  # see crop_accepted


def crop_accepted(overlaps, min_iou) -> bool:
    """The original recipe's test of a patch, given the IoU of every box with it.

    Only boxes the patch touches (IoU > 0) count, and there must be one. The patch is refused
    only when the smallest of their IoUs is below `min_iou` while the largest is above
    `min_iou + 0.2`; so a patch whose touched boxes all overlap it by at most `min_iou + 0.2`
    passes, however little they overlap, and with `min_iou` 0.9 every touching patch passes.
    This is looser than the SSD paper's "some object overlaps by at least min_iou", and it is
    what the published model was trained with (the MindSpore model zoo's `random_sample_crop`).
    """
    touched = np.asarray(overlaps)[np.asarray(overlaps) > 0]
    if touched.size == 0:
        return False
    return not (touched.min() < min_iou and touched.max() > min_iou + CROP_IOU_SLACK)


def random_crop(image, boxes, labels, rng, min_ious=CROP_MIN_IOUS, trials=CROP_TRIALS):
    """SSD random crop as the original recipe does it.

    Choose a minimum IoU (or none, leaving the image untouched); then try up to `trials` random
    patches (sides 0.3-1 of the image's, aspect 1:2 to 2:1 in pixels, corners truncated to whole
    pixels) and take the first that `crop_accepted` passes and that contains the centre of some
    box it touches. Those boxes are kept, clipped to the patch; the others are dropped. When no
    trial succeeds the image is kept whole.
    """
    min_iou = min_ious[rng.integers(len(min_ious))]
    if min_iou is None or len(boxes) == 0:
        return image, boxes, labels
    height, width = image.shape[:2]
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    for _ in range(trials):
        patch_h, patch_w = rng.uniform(CROP_MIN_SCALE, 1.0, size=2)
        aspect = (patch_h * height) / (patch_w * width)
        if not 1 / CROP_MAX_ASPECT <= aspect <= CROP_MAX_ASPECT:
            continue
        top, left = rng.uniform(0.0, 1.0 - patch_h), rng.uniform(0.0, 1.0 - patch_w)
        # whole pixels, truncated, so boxes and pixels move exactly together (at least one pixel)
        y1, x1 = int(top * height), int(left * width)
        y2 = max(int((top + patch_h) * height), y1 + 1)
        x2 = max(int((left + patch_w) * width), x1 + 1)
        patch = np.array([y1 / height, x1 / width, y2 / height, x2 / width])
        overlaps = iou_matrix(boxes, patch[None])[:, 0]
        if not crop_accepted(overlaps, min_iou):
            continue
        kept = (overlaps > 0) & np.all((centres > patch[:2]) & (centres < patch[2:]), axis=1)
        if not kept.any():
            continue
        inside = np.clip(boxes[kept], patch[[0, 1, 0, 1]], patch[[2, 3, 2, 3]]) - patch[[0, 1, 0, 1]]
        inside /= np.tile(patch[2:] - patch[:2], 2)
        return image[y1:y2, x1:x2], inside.astype(np.float32), labels[kept]
    return image, boxes, labels


def random_flip(image, boxes, rng, probability=0.5):
    """Mirror left-right with the given probability."""
    if rng.random() >= probability:
        return image, boxes
    flipped = boxes.copy()
    flipped[:, 1], flipped[:, 3] = 1.0 - boxes[:, 3], 1.0 - boxes[:, 1]
    return image[:, ::-1], flipped


def colour_jitter(image, rng, brightness=0.4, contrast=0.4, saturation=0.4):
    """Brightness, contrast and saturation each scaled by a factor in [1 - s, 1 + s], random order."""
    result = image.astype(np.float32)
    weights = np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R 601 luma
    for which in rng.permutation(3):
        if which == 0:
            result = result * rng.uniform(1 - brightness, 1 + brightness)
        elif which == 1:
            mean = float((result @ weights).mean())
            result = mean + (result - mean) * rng.uniform(1 - contrast, 1 + contrast)
        else:
            grey = (result @ weights)[..., None]
            result = grey + (result - grey) * rng.uniform(1 - saturation, 1 + saturation)
        result = np.clip(result, 0, 255)
    return result.astype(np.uint8)


class TrainAugmentation:
    """Crop, flip and jitter, as the original recipe trains; each step can be turned off."""

    def __init__(self, seed=None, crop=True, flip=True, jitter=0.4):
        self.rng = np.random.default_rng(seed)
        self.crop, self.flip, self.jitter = crop, flip, jitter

    def __call__(self, image, boxes, labels):
        if self.crop:
            image, boxes, labels = random_crop(image, boxes, labels, self.rng)
        if self.flip:
            image, boxes = random_flip(image, boxes, self.rng)
        if self.jitter:
            image = colour_jitter(image, self.rng, self.jitter, self.jitter, self.jitter)
        return np.ascontiguousarray(image), boxes, labels
