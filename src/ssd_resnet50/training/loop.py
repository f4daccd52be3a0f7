"""The training loop: train or fine-tune SSD-ResNet50 on a COCO-format data set.

    >>> train(TrainOptions("instances.json", "images/", weights="published.ckpt", classes=["cat", "dog"],
    ...                    epochs=20, lr=0.01, out="runs/pets"))  # doctest: +SKIP

Starts from a checkpoint (`weights`), from nothing, or resumes a run (`resume`, restoring
weights, optimizer state and step). With other classes than the checkpoint's, the class heads
start afresh and everything else is loaded. Launched by msrun it trains data-parallel (see
distributed.py); only rank 0 writes files.

The output directory gets `ssd_resnet50-<epoch>_<step>.ckpt` checkpoints (network weights
under the published `network.*` names, plus `moments.*`, `global_step`, `learning_rate`),
`labels.json` (label -> category id and name), `train_config.json` and `history.jsonl`.
"""
import glob
import hashlib
import json
import logging
import math
import os
import re
import time
from dataclasses import dataclass
from typing import Optional, Sequence

import mindspore as ms
import mindspore.dataset as ds
import numpy as np

from ..mindspore_versions import warn_if_slow_cpu_convolutions
from ..model.categories import save_label_set
from ..model.checkpoint import CheckpointMismatch, load_weights, read_checkpoint
from ..model.config import DEFAULT_CONFIG
from ..model.network import create_network
from .datasets import CocoDetectionSource
from .distributed import setup_data_parallel
from .loss import SsdWithLoss
from .optim import (ORIGINAL_BASE_LR, ORIGINAL_INIT_LR, TrainStep, create_optimizer, default_init_lr,
                    learning_rates)
from .pipeline import create_train_dataset

log = logging.getLogger(__name__)


@dataclass
class TrainOptions:
    """What a training run needs; `ssd-resnet50 train` fills it from its arguments (same names)."""

    annotations: str  # COCO-format instances file
    images: str  # directory of the images it names
    classes: Optional[Sequence] = None  # train only these categories (names or ids), labelled 1..K in order
    num_classes: Optional[int] = None  # only a check: must equal 1 + the classes trained
    image_size: int = DEFAULT_CONFIG.image_size[0]
    augment: bool = True  # random crop, flip, colour jitter
    workers: int = 1  # data pipeline threads
    weights: Optional[str] = None  # start from this checkpoint (new class heads when the classes differ)
    resume: Optional[str] = None  # continue from this training checkpoint; "auto": the newest in `out`
    epochs: int = 60
    batch_size: int = DEFAULT_CONFIG.batch_size  # images a worker a step
    lr: float = ORIGINAL_BASE_LR  # peak learning rate
    lr_init: Optional[float] = None  # first warm-up step (default: the original's fraction of lr)
    warmup_epochs: float = DEFAULT_CONFIG.warmup_epochs
    max_steps: Optional[int] = None  # stop at this global step (the schedule is unchanged)
    seed: int = 1  # the same on every worker
    out: str = "ssd_train"
    save_every: Optional[int] = None  # checkpoint interval in steps (default: every epoch)
    keep: int = 5  # checkpoints kept in `out`, counting those already there
    log_every: int = 10
    pynative: bool = False  # run eagerly instead of compiling a graph

    def __post_init__(self):
        if self.weights and self.resume:
            raise ValueError("give a starting checkpoint (weights) or a run to resume, not both")

CHECKPOINT_PREFIX = "ssd_resnet50"
CHECKPOINT_NAME = re.compile(rf"{CHECKPOINT_PREFIX}-(\d+)_(\d+)\.ckpt")  # epoch, global step
CLASS_HEAD_PREFIX = "network.multi_box.multi_cls_layers."
SCHEDULE_PARAMETER = "learning_rate"  # rebuilt from the arguments, never restored


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


def train(options: TrainOptions) -> int:
    """Run the training `options` describe (see `TrainOptions`); returns the global step reached.

    Launched by msrun, it trains data-parallel and only rank 0 writes files (on the scheduler
    process it returns 0 at once).
    """
    previous_mode = ms.get_context("mode")
    ms.set_context(mode=ms.PYNATIVE_MODE if options.pynative else ms.GRAPH_MODE)
    try:
        return _train(options)
    finally:
        ms.set_context(mode=previous_mode)


def _train(options) -> int:
    world = setup_data_parallel()
    if world.scheduler:
        return 0
    warn_if_slow_cpu_convolutions("training")
    ms.set_seed(options.seed)
    ds.config.set_seed(options.seed)
    np.random.seed(options.seed)

    if options.resume == "auto" and not run_checkpoints(options.out):
        raise FileNotFoundError(f"--resume auto: no {CHECKPOINT_PREFIX}-*.ckpt in {options.out}")
    source = CocoDetectionSource(options.annotations, options.images, classes=options.classes)
    labels = source.labels
    if options.num_classes is not None and options.num_classes != labels.num_classes:
        raise ValueError(f"--num-classes {options.num_classes} does not fit the {len(labels.names)} classes trained "
                         f"({', '.join(labels.names)}): the network needs {labels.num_classes} with background")
    config = DEFAULT_CONFIG.with_options(image_size=options.image_size, num_classes=labels.num_classes)
    dataset = create_train_dataset(source, config, options.batch_size, augment=options.augment, seed=options.seed,
                                   num_shards=world.shard_count, shard_id=world.shard_id, num_workers=options.workers)
    steps_per_epoch = dataset.get_dataset_size()
    if steps_per_epoch < 1:
        raise ValueError(f"{len(source)} usable images make no full batch of {options.batch_size} "
                         f"on each of {world.size} workers")
    rates = learning_rates(options.lr, steps_per_epoch, options.epochs, options.warmup_epochs, init_lr=options.lr_init)
    last_step = len(rates) if options.max_steps is None else min(len(rates), options.max_steps)

    network = create_network(is_training=True, num_classes=config.num_classes, image_size=config.image_size)
    if options.weights:  # never with resume
        load_start_weights(network, options.weights)
    train_step = TrainStep(SsdWithLoss(network, config), create_optimizer(network, rates, config),
                           config.loss_scale, config.grad_clip_norm)
    step = 0
    if options.resume == "auto":
        resumed, step = restore_newest(train_step, options.out)
        print(f"resuming {resumed} at step {step}", flush=True)
    elif options.resume:
        step = restore(train_step, options.resume)
    train_step.set_train()

    writer = CheckpointWriter(options.out, options.keep) if world.is_main else None
    history = _describe_run(options, labels, config, world) if world.is_main else None
    print(f"rank {world.rank}/{world.size}: {len(source)} images, {steps_per_epoch} steps an epoch, "
          f"{len(labels.names)} classes ({', '.join(labels.names)}), {config.image_size[0]} px, "
          f"steps {step} -> {last_step}", flush=True)

    try:
        step = _loop(train_step, dataset, rates, step, last_step, steps_per_epoch, options, writer, history)
    finally:
        if history:
            history.close()
    digest = weights_digest({p.name: p.asnumpy() for p in network.trainable_params()})
    print(f"rank {world.rank}: finished at step {step}; trainable weights digest {digest}", flush=True)
    return step


def _describe_run(options, labels, config, world):
    """Write labels.json and train_config.json; return history.jsonl opened for appending."""
    os.makedirs(options.out, exist_ok=True)
    save_label_set(labels, os.path.join(options.out, "labels.json"))
    lr_init = default_init_lr(options.lr) if options.lr_init is None else options.lr_init
    with open(os.path.join(options.out, "train_config.json"), "w") as f:
        json.dump({"image_size": list(config.image_size), "num_classes": config.num_classes,
                   "classes": list(labels.names), "world_size": world.size, "batch_size": options.batch_size,
                   "epochs": options.epochs, "lr": options.lr, "lr_init": lr_init, "seed": options.seed}, f, indent=1)
    return open(os.path.join(options.out, "history.jsonl"), "a")


def weights_digest(params: dict) -> str:
    """A short hash of the trainable network tensors ({name: array}; `network.*` names other than
    BatchNorm's moving statistics). Data-parallel workers print it: equal digests, equal weights."""
    digest = hashlib.sha256()
    for name in sorted(params):
        if name.startswith("network.") and ".moving_" not in name:
            digest.update(name.encode())
            digest.update(np.ascontiguousarray(params[name], np.float32).tobytes())
    return digest.hexdigest()[:16]


def _loop(train_step, dataset, rates, step, last_step, steps_per_epoch, options, writer, history):
    first_epoch, skip = divmod(step, steps_per_epoch)
    if step >= last_step:
        return step
    iterator = dataset.create_tuple_iterator(num_epochs=options.epochs - first_epoch)
    started, recent = time.time(), []
    for epoch in range(first_epoch + 1, options.epochs + 1):
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
            if step % options.log_every == 0 or step == last_step:
                pace = (time.time() - started) / len(recent)
                print(f"epoch {epoch} step {step}/{last_step} loss {np.mean(recent):.4f} "
                      f"lr {rates[step - 1]:.5f} ({pace:.2f} s/step)", flush=True)
                started, recent = time.time(), []
            due = options.save_every and step % options.save_every == 0
            if writer and (step == last_step or due or (not options.save_every and step % steps_per_epoch == 0)):
                print(f"saved {writer.save(train_step, epoch, step)}", flush=True)
            if step >= last_step:
                iterator.stop()
                return step
    return step
