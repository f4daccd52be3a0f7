"""Command-line arguments the commands share: the choice of weights (`--weights CKPT` or `--hub UID`), sizes.

The command line is the one place where ssd_resnet50 uses mindspore_hub: to fetch a verified checkpoint.
"""
import argparse

from ..backends import BACKENDS, PRECISIONS

PUBLISHED_UID = "mindspore/ascend/1.3/ssdresnet50_v1.3_coco2017"


def add_weights_arguments(parser: argparse.ArgumentParser, backend=True):
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--weights", metavar="CKPT", help="a MindSpore checkpoint (published or fine-tuned)")
    source.add_argument("--hub", metavar="UID", default=None,
                        help=f"fetch verified weights through mindspore_hub (default: {PUBLISHED_UID})")
    parser.add_argument("--num-classes", type=int, default=None,
                        help="classes including background, for a fine-tuned checkpoint (default 81)")
    parser.add_argument("--labels", metavar="NAME", nargs="+", default=None,
                        help="class names of a fine-tuned checkpoint, in label order (default: the labels.json "
                             "its training run wrote beside it, else COCO)")
    parser.add_argument("--image-size", type=positive_int, default=None, help="network input size (default 640)")
    if backend:
        add_backend_arguments(parser)


def add_backend_arguments(parser: argparse.ArgumentParser):
    """--backend, --precision and --int8-model: where and how the network runs."""
    parser.add_argument("--backend", choices=BACKENDS, default="auto",
                        help="where the network runs (default: auto, the fastest installed: "
                             f"{', '.join(BACKENDS[1:])} on a CPU)")
    parser.add_argument("--precision", choices=PRECISIONS, default=None,
                        help="fp32 (default), bf16 (OpenVINO, where the CPU supports it) or int8 (OpenVINO, "
                             "needs --int8-model)")
    parser.add_argument("--int8-model", metavar="DIR", default=None,
                        help="an int8 model made by `ssd-resnet50 optimize`; implies --precision int8")


def backend_options(args) -> dict:
    """The Detector's backend options the parsed arguments name."""
    return {"backend": getattr(args, "backend", "auto"), "precision": getattr(args, "precision", None),
            "int8_model": getattr(args, "int8_model", None)}


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
        labels=args.labels, **backend_options(args), **options)
