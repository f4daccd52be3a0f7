"""COCO evaluation behind `ssd-resnet50 eval`: the scoring core (re-exported from
`inference.evaluation`, which the validation during training shares), the network's label set
for an annotation file, and checked reading of a COCO results file.

`--skip-crowd-images` applies the original model zoo evaluation's image filter: an image is
left out (of detection and of scoring) when any of its annotations is a crowd region or when
it has no annotation at all. Without it every image of the annotation file counts, as in the
standard COCO protocol. Images that cannot be read are reported, skipped and left out of the
scoring.
"""
import json
from .inference.evaluation import (METRIC_NAMES, Metrics, coco_metrics, detect_images, load_ground_truth,
                                   select_images)

__all__ = ["METRIC_NAMES", "Metrics", "coco_metrics", "detect_images", "label_set_for", "load_ground_truth",
           "read_results", "select_images"]


def label_set_for(ground_truth, labels=None, num_classes=None):
    """Labels of the network -> the annotation file's category ids.

    Named `labels` are looked up in the file by name; otherwise an 81-class network keeps
    COCO's ids and any other network takes the file's categories in order (as training does).
    """
    from .model.categories import COCO as COCO_LABELS
    from .model.categories import coco_label_set
    from .model.config import COCO_NUM_CLASSES

    categories = ground_truth.dataset.get("categories", [])
    if labels:
        return coco_label_set(categories, classes=labels)
    if num_classes in (None, COCO_NUM_CLASSES):
        return COCO_LABELS
    chosen = coco_label_set(categories)
    if chosen.num_classes != num_classes:
        raise ValueError(f"the network has {num_classes - 1} object classes but the annotation file "
                         f"{len(categories)} categories; name them with --labels")
    return chosen


RESULT_FIELDS = ("image_id", "category_id", "bbox", "score")


def read_results(path) -> list:
    """A COCO results file, checked: a list of {image_id, category_id, bbox [x, y, w, h], score}."""
    try:
        with open(path) as f:
            results = json.load(f)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not JSON ({error})") from error
    if not isinstance(results, list):
        raise ValueError(f"{path}: a COCO results file is a JSON list, found {type(results).__name__}")
    for index, entry in enumerate(results):
        missing = [key for key in RESULT_FIELDS if not isinstance(entry, dict) or key not in entry]
        bbox = entry.get("bbox") if isinstance(entry, dict) else None
        if missing or not (isinstance(bbox, list) and len(bbox) == 4
                           and all(isinstance(v, (int, float)) for v in bbox)):
            why = f"lacks {', '.join(missing)}" if missing else "has no bbox of 4 numbers"
            raise ValueError(f"{path}: entry {index} {why}: {json.dumps(entry)[:200]}")
    return results
