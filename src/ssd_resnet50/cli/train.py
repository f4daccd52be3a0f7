"""`ssd-resnet50 train`: train or fine-tune SSD-ResNet50 on a COCO-format data set.

    ssd-resnet50 train --annotations instances.json --images DIR --weights published.ckpt \\
        --classes cat dog --image-size 640 --epochs 20 --lr 0.01 --out runs/pets

Under msrun: `msrun ... python -m ssd_resnet50 train ...` (see the README).
"""
import dataclasses

from ..model.config import DEFAULT_CONFIG
from ..training.loop import TrainOptions, train
from ..training.optim import ORIGINAL_BASE_LR, ORIGINAL_INIT_LR
from .arguments import checkpoint_path, positive_int

SUMMARY = "train or fine-tune on a COCO-format data set"


def add_arguments(parser):
    data = parser.add_argument_group("data")
    data.add_argument("--annotations", required=True, metavar="JSON", help="COCO-format instances file")
    data.add_argument("--images", required=True, metavar="DIR", help="directory of the images it names")
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
    if args.weights or args.hub:
        values["weights"] = checkpoint_path(args)
    return TrainOptions(**values)


def run(args) -> int:
    train(options_from_args(args))
    return 0
