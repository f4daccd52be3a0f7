"""`ssd-resnet50 detect`: detections drawn on each image, and a COCO results JSON."""
import json
import os
import sys

from ..inference.visualize import draw_detections
from .arguments import add_weights_arguments, detector_from_args, positive_int

SUMMARY = "detect objects in images; draw them and write COCO JSON"


def add_arguments(parser):
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files")
    add_weights_arguments(parser)
    parser.add_argument("--score-threshold", type=float, default=0.3,
                        help="draw and report detections above this score (default 0.3)")
    parser.add_argument("--out", default="detections", metavar="DIR",
                        help="where IMAGE.png pictures and detections.json go (default ./detections)")
    parser.add_argument("--batch-size", type=positive_int, default=4, help="images a network call (default 4)")


def run(args) -> int:
    detector = detector_from_args(args, score_threshold=args.score_threshold, batch_size=args.batch_size)
    os.makedirs(args.out, exist_ok=True)
    results, failed, pictures = [], 0, set()
    for result in detector.iter_detect(args.images, keep_images=True):
        if not result.ok:
            failed += 1
            print(f"error: {result.error}", file=sys.stderr)
            continue
        stem = os.path.splitext(os.path.basename(result.source))[0]
        picture = _unique(os.path.join(args.out, stem), ".png", pictures)
        draw_detections(result.image, result.detections).save(picture)
        image_id = int(stem) if stem.isdigit() else stem
        results += [dict(det.to_coco(image_id), category_name=det.category_name, file_name=result.source)
                    for det in result.detections]
        names = ", ".join(sorted({det.category_name for det in result.detections})) or "nothing"
        print(f"{result.source}: {len(result.detections)} detections ({names}) -> {picture}")
    report = os.path.join(args.out, "detections.json")
    with open(report, "w") as f:
        json.dump(results, f, indent=1)
    print(f"wrote {report}" + (f"; {failed} of {len(args.images)} images failed" if failed else ""))
    return 1 if failed else 0


def _unique(base, suffix, taken) -> str:
    """base + suffix, or base_2 + suffix, ... : photos of the same name from two folders."""
    path, count = base + suffix, 1
    while path in taken:
        count += 1
        path = f"{base}_{count}{suffix}"
    taken.add(path)
    return path
