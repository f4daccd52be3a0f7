"""Command-line arguments the commands share: the choice of weights (`--weights CKPT` or `--hub UID`), sizes.

The command line is the one place where ssd_resnet50 uses mindspore_hub: to fetch a verified checkpoint.
"""
import argparse

PUBLISHED_UID = "mindspore/ascend/1.3/ssdresnet50_v1.3_coco2017"


def add_weights_arguments(parser: argparse.ArgumentParser, backend=True):
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--weights", metavar="CKPT", help="a MindSpore checkpoint (published or fine-tuned)")
    source.add_argument("--hub", metavar="UID", default=None,
                        help=f"fetch verified weights through mindspore_hub (default: {PUBLISHED_UID})")
    parser.add_argument("--num-classes", type=int, default=None,
                        help="classes including background, for a fine-tuned checkpoint (default 81)")
    parser.add_argument("--labels", metavar="NAME", nargs="+", default=None,
                        help="class names of a fine-tuned checkpoint, in label order (default: COCO)")
    parser.add_argument("--image-size", type=positive_int, default=None, help="network input size (default 640)")
    if backend:
        parser.add_argument("--backend", choices=("auto", "mindspore", "onnxruntime"), default="auto",
                            help="where the network runs (default: auto)")


def positive_int(text) -> int:
    """argparse type: a whole number above zero."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number above 0, got {text!r}")
    return value


def checkpoint_path(args) -> str:
    """The local checkpoint the arguments name, downloading and verifying it if needed."""
    if args.weights:
        return args.weights
    import mindspore_hub
    from mindspore_hub.errors import DownloadError, OfflineError

    try:
        return mindspore_hub.download(args.hub or PUBLISHED_UID)
    except (DownloadError, OfflineError) as error:  # the way out of a failed fetch: a local file
        raise mindspore_hub.HubError(f"{error}\nOr pass --weights CKPT to use a checkpoint file you already "
                                     "have.") from error


def detector_from_args(args, **options):
    """A Detector built from parsed --weights/--hub/--backend/... arguments."""
    from ..inference.detector import Detector

    return Detector.from_checkpoint(
        checkpoint_path(args), num_classes=args.num_classes, image_size=args.image_size,
        labels=args.labels, backend=getattr(args, "backend", "auto"), **options)
