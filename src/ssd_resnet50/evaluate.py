"""COCO evaluation: the scoring core and the detection run behind `ssd-resnet50 eval`.

Detection runs through `Detector` (the same pre/post-processing as `detect`), results are
written as a COCO results file, and pycocotools scores them. `coco_metrics(ground_truth,
results)` is the scoring step on its own: any COCO results list (say, the ground truth fed
back as detections, which must score AP 1.000) goes through the same code as the model's.

`--skip-crowd-images` applies the original model zoo evaluation's image filter: an image is
left out (of detection and of scoring) when any of its annotations is a crowd region or when
it has no annotation at all. Without it every image of the annotation file counts, as in the
standard COCO protocol. Images that cannot be read are reported, skipped and left out of the
scoring.
"""
import contextlib
import io
import json
import os
import sys
from dataclasses import dataclass

METRIC_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")


@dataclass
class Metrics:
    """pycocotools' 12 summary numbers (-1 where the ground truth has nothing to measure)."""

    stats: tuple
    table: str  # pycocotools' printed summary
    num_images: int

    def __getitem__(self, name) -> float:
        return self.stats[METRIC_NAMES.index(name)]

    def as_dict(self) -> dict:
        return dict(zip(METRIC_NAMES, self.stats))

    def summary_line(self) -> str:
        return "  ".join(f"{name} {value:.3f}" for name, value in zip(METRIC_NAMES[:6], self.stats))


def load_ground_truth(annotations):
    """A pycocotools COCO object from a path (or a COCO object, returned as is)."""
    from pycocotools.coco import COCO

    if isinstance(annotations, COCO):
        return annotations
    path = os.fspath(annotations)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"annotation file not found: {path}")
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            return COCO(path)
        except (ValueError, KeyError, TypeError, AssertionError) as error:
            raise ValueError(f"{path}: not a COCO detection annotation file ({error!r})") from error


def select_images(ground_truth, skip_crowd_images=False) -> list:
    """Image ids to evaluate, in the file's order; see the module docstring for the filter."""
    ids = [image["id"] for image in ground_truth.dataset.get("images", [])]
    if not skip_crowd_images:
        return ids
    return [image_id for image_id in ids
            if ground_truth.imgToAnns[image_id]
            and not any(ann.get("iscrowd", 0) for ann in ground_truth.imgToAnns[image_id])]


def coco_metrics(ground_truth, results, image_ids=None) -> Metrics:
    """Score COCO results ([{image_id, category_id, bbox [x, y, w, h], score}, ...]) with pycocotools.

    `image_ids` restricts the scoring to those images (default: every image of the ground truth).
    """
    from pycocotools.cocoeval import COCOeval

    ground_truth = load_ground_truth(ground_truth)
    image_ids = list(ground_truth.getImgIds() if image_ids is None else image_ids)
    if not image_ids:
        raise ValueError("no images to evaluate")
    unknown = {r["image_id"] for r in results} - set(ground_truth.getImgIds())
    if unknown:
        raise ValueError(f"results name images the annotations do not have: {sorted(unknown)[:10]}")
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        detections = ground_truth.loadRes(list(results)) if results else _no_detections(ground_truth)
        evaluation = COCOeval(ground_truth, detections, iouType="bbox")
        evaluation.params.imgIds = image_ids
        evaluation.evaluate()
        evaluation.accumulate()
        start = printed.tell()
        evaluation.summarize()
    table = printed.getvalue()[start:]
    return Metrics(tuple(float(v) for v in evaluation.stats), table, len(image_ids))


def _no_detections(ground_truth):
    from pycocotools.coco import COCO

    empty = COCO()
    empty.dataset = {"images": ground_truth.dataset["images"], "categories": ground_truth.dataset["categories"],
                     "annotations": []}
    empty.createIndex()
    return empty


def detect_images(detector, ground_truth, image_dir, image_ids, no_progress=None):
    """Run `detector` over the images; returns (COCO results list, ids done, [(id, error), ...]).

    `no_progress`: True hides the progress bar, None shows it only on a terminal.
    """
    from tqdm import tqdm

    images = ground_truth.loadImgs(image_ids)
    results, done, failed = [], [], []
    with tqdm(total=len(images), unit="image", desc="detect", disable=no_progress, file=sys.stderr) as bar:
        for start in range(0, len(images), detector.batch_size):
            chunk = images[start:start + detector.batch_size]
            paths = [os.path.join(image_dir, image["file_name"]) for image in chunk]
            for image, outcome in zip(chunk, detector.detect_batch(paths)):
                if outcome.ok:
                    done.append(image["id"])
                    results += [det.to_coco(image["id"]) for det in outcome.detections]
                else:
                    failed.append((image["id"], outcome.error))
            bar.update(len(chunk))
    return results, done, failed


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
