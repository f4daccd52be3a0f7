"""`ssd-resnet50 eval`: COCO mAP of a model on a COCO-format data set, or of a results file.

    ssd-resnet50 eval --annotations instances_val2017.json --images val2017/ [--weights CKPT | --hub UID]
    ssd-resnet50 eval --annotations instances_val2017.json --detections results.json   # score a file
"""
import json
import os
import sys

from ..evaluate import coco_metrics, detect_images, label_set_for, load_ground_truth, read_results, select_images
from ..inference.detector import Detector
from ..model.categories import labels_beside
from .arguments import add_weights_arguments, backend_options, checkpoint_path, positive_int

SUMMARY = "COCO mAP of a model on a COCO-format data set"


def add_arguments(parser):
    parser.add_argument("--annotations", required=True, metavar="JSON", help="COCO-format annotation file")
    parser.add_argument("--images", metavar="DIR",
                        help="directory holding the images' file_names; their pixels are read as stored, without "
                             "EXIF rotation, as the COCO protocol (and its boxes) has them")
    parser.add_argument("--detections", metavar="JSON",
                        help="score this COCO results file instead of running a model")
    add_weights_arguments(parser)
    parser.add_argument("--skip-crowd-images", action="store_true",
                        help="leave out images with a crowd annotation or none at all (the original evaluation)")
    parser.add_argument("--out", default="results.json", metavar="JSON",
                        help="where the detections go, COCO results format (default results.json)")
    parser.add_argument("--batch-size", type=positive_int, default=8, help="images a network call (default 8)")
    parser.add_argument("--score-threshold", type=float, default=None,
                        help="keep detections above this score (default 0.1, the original evaluation's)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args) -> int:
    ground_truth = load_ground_truth(args.annotations)
    image_ids = select_images(ground_truth, args.skip_crowd_images)
    total = len(ground_truth.getImgIds())
    if not image_ids:
        raise ValueError(f"no images left to evaluate: {total} in the file"
                         + (", all with a crowd annotation or none" if args.skip_crowd_images else ""))
    if args.skip_crowd_images:
        print(f"--skip-crowd-images: evaluating {len(image_ids)} of {total} images")
    if args.detections:
        results = read_results(args.detections)
        done = image_ids
    else:
        if not args.images:
            raise ValueError("give --images DIR (or --detections to score an existing results file)")
        results, done = _run_model(args, ground_truth, image_ids)
        if not done:
            raise ValueError("no image could be read; nothing to evaluate")
    evaluated = set(done)
    metrics = coco_metrics(ground_truth, [r for r in results if r["image_id"] in evaluated], done)
    print(metrics.table, end="")
    print(f"{metrics.summary_line()}  ({metrics.num_images} images)")
    return 0


def _run_model(args, ground_truth, image_ids):
    checkpoint = checkpoint_path(args)
    named = args.labels
    if named is None and args.num_classes is None:  # a fine-tuned run's labels.json names its classes
        beside = labels_beside(checkpoint)
        named = beside.names if beside else None
    labels = label_set_for(ground_truth, named, args.num_classes)
    detector = Detector.from_checkpoint(
        checkpoint, num_classes=args.num_classes, image_size=args.image_size, labels=labels,
        batch_size=args.batch_size, score_threshold=args.score_threshold, checkpoint=checkpoint,
        **backend_options(args))
    results, done, failed = detect_images(detector, ground_truth, args.images, image_ids,
                                          no_progress=True if args.no_progress else None)
    for image_id, error in failed:
        print(f"warning: image {image_id} skipped: {error}", file=sys.stderr)
    directory = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(directory, exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(results, f)
    print(f"wrote {len(results)} detections on {len(done)} images to {args.out}"
          + (f"; {len(failed)} unreadable images skipped" if failed else ""))
    return results, done
