"""`ssd-resnet50 train`: train or fine-tune SSD-ResNet50 on a COCO-format data set.

    ssd-resnet50 train --annotations instances.json --images DIR --weights published.ckpt \\
        --classes cat dog --image-size 640 --epochs 20 --lr 0.01 --out runs/pets

Starts from a checkpoint (`--weights`, or `--hub` for the published one), from nothing, or
resumes a run (`--resume`, restoring weights, optimizer state and step). With other classes
than the checkpoint's, the class heads start afresh and everything else is loaded. Launched by
msrun it trains data-parallel (see distributed.py); only rank 0 writes files.

The output directory gets `ssd_resnet50-<epoch>_<step>.ckpt` checkpoints (network weights
under the published `network.*` names, plus `moments.*`, `global_step`, `learning_rate`),
`labels.json` (label -> category id and name), `train_config.json` and `history.jsonl`.
"""
import argparse
import glob
import hashlib
import json
import logging
import math
import os
import re
import sys
import time

import numpy as np
import mindspore as ms
import mindspore.dataset as ds

from .categories import save_label_set
from .checkpoint import CheckpointMismatch, load_weights, read_checkpoint
from .config import DEFAULT_CONFIG
from .data import CocoDetectionSource, create_train_dataset
from .distributed import setup_data_parallel
from .loss import SsdWithLoss
from .model import create_network
from .optim import (ORIGINAL_BASE_LR, ORIGINAL_INIT_LR, TrainStep, create_optimizer, default_init_lr,
                    learning_rates)
from .weights_source import positive_int

log = logging.getLogger(__name__)

CHECKPOINT_PREFIX = "ssd_resnet50"
CHECKPOINT_NAME = re.compile(rf"{CHECKPOINT_PREFIX}-(\d+)_(\d+)\.ckpt")  # epoch, global step
CLASS_HEAD_PREFIX = "network.multi_box.multi_cls_layers."
SCHEDULE_PARAMETER = "learning_rate"  # rebuilt from the arguments, never restored


def add_arguments(parser: argparse.ArgumentParser):
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


def load_start_weights(network, path):
    """Load every network tensor from `path`; class heads whose shape differs start afresh.

    Raises CheckpointMismatch listing anything else that is missing or mis-shaped.
    """
    params = read_checkpoint(path)
    new_heads = [p.name for p in network.get_parameters()
                 if p.name.startswith(CLASS_HEAD_PREFIX) and p.name in params
                 and tuple(params[p.name].shape) != tuple(p.shape)]
    if new_heads:
        print(f"class heads for {network.config.num_classes} classes start afresh: not loading "
              f"{len(new_heads)} tensors of another shape ({', '.join(new_heads[:2])}, ...)", flush=True)
    load_weights(network, params, strict=True, skip=new_heads)
    return new_heads


def restore(train_step, path) -> int:
    """Resume: weights, optimizer moments and step from a training checkpoint; returns the step.

    Raises CheckpointMismatch (and changes nothing) when the file is unreadable or lacks a tensor.
    """
    params = read_checkpoint(path)
    current = {param.name: param for param in train_step.get_parameters()}
    params[SCHEDULE_PARAMETER] = current[SCHEDULE_PARAMETER]  # the schedule follows the arguments
    load_weights(train_step, params, strict=True)
    return int(train_step.optimizer.global_step.asnumpy().reshape(-1)[0])


def run_checkpoints(directory):
    """The `ssd_resnet50-<epoch>_<step>.ckpt` files in `directory`, lowest step first."""
    steps = {}
    for path in glob.glob(os.path.join(directory, f"{CHECKPOINT_PREFIX}-*_*.ckpt")):
        found = CHECKPOINT_NAME.fullmatch(os.path.basename(path))
        if found:
            steps[path] = int(found.group(2))
    return sorted(steps, key=steps.get)


def latest_checkpoint(directory):
    """The checkpoint of this run with the highest step in `directory`, or None."""
    found = run_checkpoints(directory)
    return found[-1] if found else None


def restore_newest(train_step, directory):
    """`--resume auto`: restore the newest checkpoint in `directory` that reads and fits the
    train step, passing over newer ones that do not (say, one cut short when a run was killed
    while saving) with a warning. Returns (path, step); raises FileNotFoundError when none does."""
    found = run_checkpoints(directory)
    for path in reversed(found):
        try:
            return path, restore(train_step, path)
        except CheckpointMismatch as error:
            log.warning("--resume auto: passing over %s: %s", path, error)
    if found:
        raise FileNotFoundError(f"--resume auto: none of the {len(found)} {CHECKPOINT_PREFIX}-*.ckpt in "
                                f"{directory} can be restored (see the warnings above)")
    raise FileNotFoundError(f"--resume auto: no {CHECKPOINT_PREFIX}-*.ckpt in {directory}")


class CheckpointWriter:
    """Saves the train step's parameters and keeps the newest `keep` files of `directory`,
    counting the checkpoints an earlier run left there (a resumed run's).

    Each file is written under a temporary name in the same directory and renamed when
    complete, so a run killed while saving never leaves a cut-short checkpoint under a
    checkpoint's name (only a hidden `.*.partial.ckpt`, removed by the next writer).
    """

    def __init__(self, directory, keep):
        self.directory, self.keep = directory, max(int(keep), 1)
        os.makedirs(directory, exist_ok=True)
        for stale in glob.glob(os.path.join(directory, f".{CHECKPOINT_PREFIX}-*.partial.ckpt")):
            os.remove(stale)
        self.written = run_checkpoints(directory)

    def save(self, train_step, epoch, step):
        path = os.path.join(self.directory, f"{CHECKPOINT_PREFIX}-{epoch}_{step}.ckpt")
        partial = os.path.join(self.directory, f".{CHECKPOINT_PREFIX}-{epoch}_{step}.partial.ckpt")
        try:
            ms.save_checkpoint(train_step, partial)
            with open(partial, "rb") as written:
                os.fsync(written.fileno())
            os.replace(partial, path)
        finally:
            if os.path.exists(partial):
                os.remove(partial)
        if path in self.written:
            self.written.remove(path)
        self.written.append(path)
        while len(self.written) > self.keep:
            old = self.written.pop(0)
            if os.path.exists(old):
                os.remove(old)
        return path


def run(args) -> int:
    previous_mode = ms.get_context("mode")
    ms.set_context(mode=ms.PYNATIVE_MODE if args.pynative else ms.GRAPH_MODE)
    try:
        return _train(args)
    finally:
        ms.set_context(mode=previous_mode)


def _train(args) -> int:
    world = setup_data_parallel()
    if world.scheduler:
        return 0
    ms.set_seed(args.seed)
    ds.config.set_seed(args.seed)
    np.random.seed(args.seed)

    if args.resume == "auto" and not run_checkpoints(args.out):
        raise FileNotFoundError(f"--resume auto: no {CHECKPOINT_PREFIX}-*.ckpt in {args.out}")
    source = CocoDetectionSource(args.annotations, args.images, classes=args.classes)
    labels = source.labels
    if args.num_classes is not None and args.num_classes != labels.num_classes:
        raise ValueError(f"--num-classes {args.num_classes} does not fit the {len(labels.names)} classes trained "
                         f"({', '.join(labels.names)}): the network needs {labels.num_classes} with background")
    config = DEFAULT_CONFIG.with_options(image_size=args.image_size, num_classes=labels.num_classes)
    dataset = create_train_dataset(source, config, args.batch_size, augment=not args.no_augment, seed=args.seed,
                                   num_shards=world.shard_count, shard_id=world.shard_id, num_workers=args.workers)
    steps_per_epoch = dataset.get_dataset_size()
    if steps_per_epoch < 1:
        raise ValueError(f"{len(source)} usable images make no full batch of {args.batch_size} "
                         f"on each of {world.size} workers")
    rates = learning_rates(args.lr, steps_per_epoch, args.epochs, args.warmup_epochs, init_lr=args.lr_init)
    last_step = len(rates) if args.max_steps is None else min(len(rates), args.max_steps)

    network = create_network(is_training=True, num_classes=config.num_classes, image_size=config.image_size)
    if args.weights or args.hub:  # never with --resume
        from .weights_source import checkpoint_path

        load_start_weights(network, checkpoint_path(args))
    train_step = TrainStep(SsdWithLoss(network, config), create_optimizer(network, rates, config),
                           config.loss_scale, config.grad_clip_norm)
    step = 0
    if args.resume == "auto":
        resumed, step = restore_newest(train_step, args.out)
        print(f"resuming {resumed} at step {step}", flush=True)
    elif args.resume:
        step = restore(train_step, args.resume)
    train_step.set_train()

    writer = CheckpointWriter(args.out, args.keep) if world.is_main else None
    history = _describe_run(args, labels, config, world) if world.is_main else None
    print(f"rank {world.rank}/{world.size}: {len(source)} images, {steps_per_epoch} steps an epoch, "
          f"{len(labels.names)} classes ({', '.join(labels.names)}), {config.image_size[0]} px, "
          f"steps {step} -> {last_step}", flush=True)

    try:
        step = _loop(train_step, dataset, rates, step, last_step, steps_per_epoch, args, writer, history)
    finally:
        if history:
            history.close()
    digest = weights_digest({p.name: p.asnumpy() for p in network.trainable_params()})
    print(f"rank {world.rank}: finished at step {step}; trainable weights digest {digest}", flush=True)
    return 0


def _describe_run(args, labels, config, world):
    """Write labels.json and train_config.json; return history.jsonl opened for appending."""
    os.makedirs(args.out, exist_ok=True)
    save_label_set(labels, os.path.join(args.out, "labels.json"))
    lr_init = default_init_lr(args.lr) if args.lr_init is None else args.lr_init
    with open(os.path.join(args.out, "train_config.json"), "w") as f:
        json.dump({"image_size": list(config.image_size), "num_classes": config.num_classes,
                   "classes": list(labels.names), "world_size": world.size, "batch_size": args.batch_size,
                   "epochs": args.epochs, "lr": args.lr, "lr_init": lr_init, "seed": args.seed}, f, indent=1)
    return open(os.path.join(args.out, "history.jsonl"), "a")


def weights_digest(params: dict) -> str:
    """A short hash of the trainable network tensors ({name: array}; `network.*` names other than
    BatchNorm's moving statistics). Data-parallel workers print it: equal digests, equal weights."""
    digest = hashlib.sha256()
    for name in sorted(params):
        if name.startswith("network.") and ".moving_" not in name:
            digest.update(name.encode())
            digest.update(np.ascontiguousarray(params[name], np.float32).tobytes())
    return digest.hexdigest()[:16]


def _loop(train_step, dataset, rates, step, last_step, steps_per_epoch, args, writer, history):
    first_epoch, skip = divmod(step, steps_per_epoch)
    if step >= last_step:
        return step
    iterator = dataset.create_tuple_iterator(num_epochs=args.epochs - first_epoch)
    started, recent = time.time(), []
    for epoch in range(first_epoch + 1, args.epochs + 1):
        for images, loc_targets, anchor_labels in iterator:  # one epoch
            if skip:  # the batches of a resumed epoch that were trained before
                skip -= 1
                continue
            loss = float(train_step(images, loc_targets, anchor_labels).asnumpy())
            step += 1
            if not math.isfinite(loss):
                raise FloatingPointError(f"the loss became {loss} at step {step}; try a lower --lr")
            recent.append(loss)
            if history:
                record = {"step": step, "epoch": epoch, "loss": loss, "lr": float(rates[step - 1])}
                history.write(json.dumps(record) + "\n")
                history.flush()
            if step % args.log_every == 0 or step == last_step:
                pace = (time.time() - started) / len(recent)
                print(f"epoch {epoch} step {step}/{last_step} loss {np.mean(recent):.4f} "
                      f"lr {rates[step - 1]:.5f} ({pace:.2f} s/step)", flush=True)
                started, recent = time.time(), []
            due = args.save_every and step % args.save_every == 0
            if writer and (step == last_step or due or (not args.save_every and step % steps_per_epoch == 0)):
                print(f"saved {writer.save(train_step, epoch, step)}", flush=True)
            if step >= last_step:
                iterator.stop()
                return step
    return step


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ssd_resnet50.train", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        return run(args)
    except (OSError, ValueError, CheckpointMismatch) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
