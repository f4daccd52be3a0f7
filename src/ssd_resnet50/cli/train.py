"""`ssd-resnet50 train`: train or fine-tune SSD-ResNet50 on a COCO, Pascal VOC or YOLO data set.

    ssd-resnet50 train --annotations instances.json --images DIR --weights published.ckpt \\
        --classes cat dog --image-size 640 --epochs 20 --lr 0.01 --val-split 0.1 --patience 5 --out runs/pets
    ssd-resnet50 train --annotations pets/data.yaml --val-annotations pets/data.yaml --hub UID ...   # YOLO

Under msrun: `msrun ... python -m ssd_resnet50 train ...` (see the README).
"""
import dataclasses

from ..inference.evaluation import METRIC_NAMES
from ..model.config import DEFAULT_CONFIG
from ..training.datasets import FORMATS
from ..training.loop import TrainOptions, train
from ..training.optim import ORIGINAL_BASE_LR, ORIGINAL_INIT_LR
from .arguments import checkpoint_path, positive_int

SUMMARY = "train or fine-tune on a COCO, Pascal VOC or YOLO data set"


def add_arguments(parser):
    data = parser.add_argument_group("data")
    data.add_argument("--annotations", required=True, metavar="PATH",
                      help="COCO instances .json; Pascal VOC folder (VOCdevkit year folder or folder of .xml) or "
                           "ImageSets/Main split .txt; YOLO data.yaml or the folder holding it")
    data.add_argument("--images", metavar="DIR",
                      help="directory of the images (required for COCO; VOC: default JPEGImages/ or beside the "
                           "XML files; YOLO: where data.yaml says)")
    data.add_argument("--format", choices=FORMATS, help="the annotation format (default: told from the path)")
    data.add_argument("--classes", nargs="+", metavar="NAME",
                      help="train only these categories (names or ids), labelled 1..K in this order "
                           "(default: every category of the file, in the file's order)")
    data.add_argument("--num-classes", type=int, metavar="K",
                      help="classes including background; only a check: it must equal 1 + the classes trained")
    data.add_argument("--image-size", type=positive_int, default=DEFAULT_CONFIG.image_size[0],
                      help="square network input size (default %(default)s)")
    data.add_argument("--no-augment", action="store_true", help="no random crop, flip or colour jitter")
    data.add_argument("--workers", type=int, default=1, help="data pipeline threads (default 1)")

    start = parser.add_argument_group("starting point (default: random initialisation)")
    source = start.add_mutually_exclusive_group()
    source.add_argument("--weights", metavar="CKPT", help="start from this checkpoint (published, fixture or own)")
    source.add_argument("--hub", metavar="UID", help="start from weights fetched and verified by mindspore_hub")
    source.add_argument("--resume", metavar="CKPT",
                        help="continue a run from its checkpoint (weights, optimizer state, step); "
                             "'auto' takes the newest in --out")

    schedule = parser.add_argument_group("schedule")
    schedule.add_argument("--epochs", type=int, default=60, help="default %(default)s")
    schedule.add_argument("--batch-size", type=positive_int, default=DEFAULT_CONFIG.batch_size,
                          help="images a worker a step (default %(default)s)")
    schedule.add_argument("--lr", type=float, default=ORIGINAL_BASE_LR,
                          help="peak learning rate (default %(default)s)")
    schedule.add_argument("--lr-init", type=float, metavar="LR",
                          help=f"learning rate of the first warm-up step (default: --lr x "
                               f"{ORIGINAL_INIT_LR / ORIGINAL_BASE_LR:.4f}, the original's {ORIGINAL_INIT_LR} "
                               f"at its {ORIGINAL_BASE_LR})")
    schedule.add_argument("--warmup-epochs", type=float, default=DEFAULT_CONFIG.warmup_epochs,
                          help="linear warm-up before the cosine decay (default %(default)s)")
    schedule.add_argument("--max-steps", type=int, help="stop at this global step (the schedule is unchanged)")
    schedule.add_argument("--seed", type=int, default=1, help="same on every worker (default %(default)s)")

    validation = parser.add_argument_group("validation (COCO AP with the code of `eval`; best.ckpt, early stop)")
    held = validation.add_mutually_exclusive_group()
    held.add_argument("--val-annotations", metavar="PATH",
                      help="a validation set in the training set's format (its 'val' split for a VOCdevkit "
                           "folder or a data.yaml)")
    held.add_argument("--val-split", type=float, metavar="SHARE",
                      help="hold out this seeded share of the training images for validation (e.g. 0.1)")
    validation.add_argument("--val-images", metavar="DIR", help="directory of the validation images (as --images)")
    validation.add_argument("--val-every", type=positive_int, default=1, metavar="EPOCHS",
                            help="evaluate every N epochs, and at the last step (default %(default)s)")
    validation.add_argument("--best-metric", choices=METRIC_NAMES, default="AP",
                            help="what best.ckpt is best at (default %(default)s)")
    validation.add_argument("--patience", type=positive_int, metavar="N",
                            help="stop after N evaluations without improvement of --best-metric")
    validation.add_argument("--min-delta", type=float, default=0.001, metavar="VALUE",
                            help="the rise of --best-metric that counts as an improvement for --patience "
                                 "(default %(default)s; best.ckpt follows any rise)")
    validation.add_argument("--no-plots", action="store_true", help="draw no results.png or val_predictions.png")

    output = parser.add_argument_group("output")
    output.add_argument("--out", default="ssd_train", metavar="DIR", help="default ./%(default)s")
    output.add_argument("--save-every", type=int, metavar="STEPS",
                        help="checkpoint interval in steps (default: every epoch)")
    output.add_argument("--keep", type=int, default=5,
                        help="checkpoints kept in --out, counting those already there (default %(default)s)")
    output.add_argument("--log-every", type=int, default=10, help="log interval in steps (default %(default)s)")
    output.add_argument("--pynative", action="store_true", help="run eagerly instead of compiling a graph")


def options_from_args(args) -> TrainOptions:
    """The TrainOptions the parsed arguments name; `--hub` is fetched and verified here."""
    fields = {field.name for field in dataclasses.fields(TrainOptions)}
    values = {name: value for name, value in vars(args).items() if name in fields}
    values["augment"] = not args.no_augment
    values["plots"] = not args.no_plots
    if args.weights or args.hub:
        values["weights"] = checkpoint_path(args)
    return TrainOptions(**values)


def run(args) -> int:
    train(options_from_args(args))
    return 0
