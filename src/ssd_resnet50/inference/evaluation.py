"""COCO evaluation of detections: pycocotools' scoring and the detection run over an annotated set.

`coco_metrics(ground_truth, results)` is the scoring step on its own: any COCO results list
(say, the ground truth fed back as detections, which must score AP 1.000) goes through the
same code as a model's. `detect_images` runs a `Detector` (the same pre/post-processing as
`detect`) over the images of a ground truth. `ssd-resnet50 eval` and the validation during
training both use these two functions, so the numbers a training run logs are the numbers
`eval` prints for the same checkpoint.
"""
import contextlib
import io
import os
import sys
from dataclasses import dataclass

from .sources import image_file

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
    """A pycocotools COCO object from a path, a COCO-format dict (say, `DetectionSource.to_coco()`),
    or a COCO object (returned as is)."""
    from pycocotools.coco import COCO

    if isinstance(annotations, COCO):
        return annotations
    if isinstance(annotations, dict):
        ground_truth = COCO()
        ground_truth.dataset = annotations
        with contextlib.redirect_stdout(io.StringIO()):
            ground_truth.createIndex()
        return ground_truth
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

    The pixels are read as stored, without EXIF rotation: COCO's boxes are in those pixels.

    `no_progress`: True hides the progress bar, None shows it only on a terminal.
    """
    from tqdm import tqdm

    images = ground_truth.loadImgs(image_ids)
    results, done, failed = [], [], []
    with tqdm(total=len(images), unit="image", desc="detect", disable=no_progress, file=sys.stderr) as bar:
        for start in range(0, len(images), detector.batch_size):
            chunk = images[start:start + detector.batch_size]
            files = [image_file(os.path.join(image_dir, image["file_name"])) for image in chunk]
            for image, outcome in zip(chunk, detector.detect_batch(files, exif=False)):
                if outcome.ok:
                    done.append(image["id"])
                    results += [det.to_coco(image["id"]) for det in outcome.detections]
                else:
                    failed.append((image["id"], outcome.error))
            bar.update(len(chunk))
    return results, done, failed
