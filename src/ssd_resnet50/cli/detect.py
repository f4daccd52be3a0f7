"""`ssd-resnet50 detect`: detections on images, folders, globs, URLs and videos, drawn and streamed to JSON.

    ssd-resnet50 detect photos/ 'more/*.jpg' https://example.com/street.jpg clip.mp4 --out detections
"""
import statistics
import sys
import time
from array import array

from ..inference.outputs import DetectionWriter
from ..inference.sources import Sources
from .arguments import add_weights_arguments, detector_from_args, positive_int

SUMMARY = "detect objects in images, folders, globs, URLs or videos; draw them and write JSON"
STAGES = {"preprocess": "decode+preprocess", "inference": "inference", "postprocess": "postprocess"}


def add_arguments(parser):
    parser.add_argument("images", nargs="+", metavar="SOURCE",
                        help="image files, folders, glob patterns (quoted or not), http(s) URLs, video files, "
                             "or - for one image on standard input")
    add_weights_arguments(parser)
    parser.add_argument("--score-threshold", type=float, default=0.3,
                        help="draw and report detections above this score (default 0.3)")
    parser.add_argument("--classes", nargs="+", metavar="NAME|ID", default=None,
                        help="keep only these categories (names, e.g. person, or category ids)")
    parser.add_argument("--max-detections", type=positive_int, default=None, metavar="N",
                        help="keep at most N detections an image, the best")
    parser.add_argument("--out", default="detections", metavar="DIR",
                        help="where pictures, videos, detections.jsonl and detections.json go (default ./detections)")
    parser.add_argument("--batch-size", type=positive_int, default=4, help="images a network call (default 4)")
    parser.add_argument("--recursive", action="store_true", help="also take the images in sub-folders of folders")
    parser.add_argument("--vid-stride", type=positive_int, default=1, metavar="N",
                        help="in videos, detect on every N-th frame (default 1: every frame)")
    parser.add_argument("--no-exif", action="store_true",
                        help="keep the pixels as stored; by default photos are turned upright by their EXIF "
                             "orientation, as viewers show them, and boxes are in the upright image")
    parser.add_argument("--save-txt", action="store_true",
                        help="write labels/NAME.txt a file an image, YOLO format: class x_center y_center width "
                             "height, normalised (class = label - 1)")
    parser.add_argument("--save-conf", action="store_true", help="with --save-txt, add the score to each line")
    parser.add_argument("--save-crops", action="store_true", help="cut each detection out into crops/CLASS/")
    parser.add_argument("--no-draw", action="store_true", help="draw no pictures or videos")
    parser.add_argument("-q", "--quiet", action="store_true", help="no line an image and no progress bar")


def run(args) -> int:
    sources = Sources(args.images, recursive=args.recursive, vid_stride=args.vid_stride)
    if sources.skipped:
        print(sources.skipped_summary(), file=sys.stderr)
    detector = detector_from_args(args, score_threshold=args.score_threshold, batch_size=args.batch_size,
                                  exif=not args.no_exif, classes=args.classes, max_detections=args.max_detections)
    from tqdm import tqdm

    timings = {stage: array("d") for stage in STAGES}
    done = failed = 0
    start = time.perf_counter()
    with DetectionWriter(args.out, draw=not args.no_draw, save_txt=args.save_txt, save_conf=args.save_conf,
                         save_crops=args.save_crops) as writer, \
            tqdm(total=sources.count, unit="image", desc="detect", file=sys.stderr,
                 disable=True if args.quiet else None) as bar:
        for result in detector.iter_detect(sources, keep_images=writer.needs_images):
            bar.update(1)
            if not result.ok:
                failed += 1
                bar.write(f"error: {result.error}", file=sys.stderr)
                continue
            done += 1
            for stage in STAGES:
                timings[stage].append(result.timing.get(stage, 0.0))
            written = writer.write(result)
            if not args.quiet:
                bar.write(_line(result, written), file=sys.stdout)
    elapsed = time.perf_counter() - start
    print(f"wrote {writer.json_path} and {writer.jsonl_path}"
          + (f"; {failed} of {done + failed} inputs failed" if failed else ""))
    if done:
        medians = ", ".join(f"{label} {statistics.median(timings[stage]) * 1000:.1f} ms" for stage, label in
                            STAGES.items())
        print(f"speed per image (medians): {medians}; "
              f"{done / elapsed:.2f} images/s over {done} images")
    return 1 if failed else 0


def _line(result, written) -> str:
    names = ", ".join(sorted({det.category_name for det in result.detections})) or "nothing"
    where = f" frame {result.frame}" if result.frame is not None else ""
    return f"{result.source}{where}: {len(result.detections)} detections ({names})" + (f" -> {written}" if written
                                                                                          else "")
