"""`ssd-resnet50`: detect, eval, train, export from the command line.

Each sub-command lives with its subject (evaluate.py, train.py, export.py) and exposes
`add_arguments(parser)` and `run(args) -> exit status`; `detect` is here.
"""
import argparse
import importlib
import json
import logging
import os
import sys

from mindspore_hub.errors import HubError

from .weights_source import add_weights_arguments, detector_from_args, positive_int

SUBCOMMANDS = {
    "eval": ("evaluate", "COCO mAP of a model on a COCO-format data set"),
    "train": ("train", "train or fine-tune on a COCO-format data set"),
    "export": ("export", "export the network to MINDIR or ONNX for deployment"),
}


def add_detect_arguments(parser):
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files")
    add_weights_arguments(parser)
    parser.add_argument("--score-threshold", type=float, default=0.3,
                        help="draw and report detections above this score (default 0.3)")
    parser.add_argument("--out", default="detections", metavar="DIR",
                        help="where IMAGE.png pictures and detections.json go (default ./detections)")
    parser.add_argument("--batch-size", type=positive_int, default=4, help="images a network call (default 4)")


def run_detect(args) -> int:
    from .visualize import draw_detections

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ssd-resnet50", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    commands = parser.add_subparsers(dest="command", required=True)
    detect = commands.add_parser("detect", help="detect objects in images; draw them and write COCO JSON")
    add_detect_arguments(detect)
    detect.set_defaults(run=run_detect)
    for name, (module_name, summary) in SUBCOMMANDS.items():
        sub = commands.add_parser(name, help=summary)
        try:
            module = importlib.import_module(f"{__package__}.{module_name}")
        except ImportError as error:  # keep the other commands usable
            sub.set_defaults(run=lambda args, error=error: _unavailable(args, error))
            continue
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def _unavailable(args, error) -> int:
    print(f"error: `{args.command}` is unavailable: {error}", file=sys.stderr)
    return 2


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    try:
        return args.run(args)
    except (OSError, ValueError, ImportError, ArithmeticError, HubError) as error:  # a message, not a traceback
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
