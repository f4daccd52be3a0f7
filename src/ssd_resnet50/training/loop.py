"""The training loop: train or fine-tune SSD-ResNet50 on a COCO, Pascal VOC or YOLO data set.

    >>> train(TrainOptions("instances.json", "images/", weights="published.ckpt", classes=["cat", "dog"],
    ...                    epochs=20, lr=0.01, val_split=0.1, patience=5, out="runs/pets"))  # doctest: +SKIP

Starts from a checkpoint (`weights`), from nothing, or resumes a run (`resume`, restoring
weights, optimizer state and step). With other classes than the checkpoint's, the class heads
start afresh and everything else is loaded. Launched by msrun it trains data-parallel (see
distributed.py); only rank 0 writes files.

With a validation set (`val_annotations`, or `val_split` held out of the training images) the
network is evaluated every `val_every` epochs and at the last step (validation.py); the best
evaluation by `best_metric` is kept as `best.ckpt`, and `patience` stops a run that has not
improved for that many evaluations.

The output directory gets `ssd_resnet50-<epoch>_<step>.ckpt` checkpoints (network weights
under the published `network.*` names, plus `moments.*`, `global_step`, `learning_rate`) and
`last.ckpt` (the newest of them), `labels.json` (label -> category id and name),
`train_config.json` and `history.jsonl` (history.py); with validation also `best.ckpt`,
`val.json` (the validation set as COCO ground truth), `metrics.csv`, `results.png` and
`val_predictions.png` (plots.py).
"""
import glob
import hashlib
import json
import logging
import math
import os
import re
import shutil
import time
from dataclasses import dataclass
from typing import Optional, Sequence

import mindspore as ms
import mindspore.dataset as ds
import numpy as np

from ..inference.evaluation import METRIC_NAMES
from ..mindspore_versions import warn_if_slow_cpu_convolutions
from ..model.categories import save_label_set
from ..model.checkpoint import CheckpointMismatch, load_weights, read_checkpoint
from ..model.config import DEFAULT_CONFIG
from ..model.network import create_network
from .datasets import open_source
from .distributed import setup_data_parallel
from .history import LOSS_TERMS, RunHistory, read_history
from .loss import SsdWithLoss
from .optim import (ORIGINAL_BASE_LR, ORIGINAL_INIT_LR, TrainStep, create_optimizer, default_init_lr,
                    learning_rates)
from .pipeline import create_train_dataset
from .plots import PLOT_EXTRA_NOTE, PREDICTIONS_FILE, draw_predictions, draw_results, plotting_available
from .validation import Selection, Validator

log = logging.getLogger(__name__)


@dataclass
class TrainOptions:
    """What a training run needs; `ssd-resnet50 train` fills it from its arguments (same names)."""

    annotations: str  # COCO json, VOC folder or split file, YOLO data.yaml (see datasets/formats.py)
    images: Optional[str] = None  # directory of the images (COCO: required; VOC/YOLO: found from the layout)
    format: Optional[str] = None  # "coco", "voc" or "yolo" (default: told from the path)
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
    val_annotations: Optional[str] = None  # a validation set, read like `annotations` (its "val" split)
    val_images: Optional[str] = None
    val_split: Optional[float] = None  # or hold out this seeded share of the training images
    val_every: int = 1  # evaluate every N epochs (and at the last step)
    best_metric: str = "AP"  # what best.ckpt is best at (one of METRIC_NAMES; higher is better)
    patience: Optional[int] = None  # stop after N evaluations without improvement
    min_delta: float = 0.001  # what counts as an improvement for patience (0.001 AP: 0.1 points)
    plots: bool = True  # draw results.png and val_predictions.png

    def __post_init__(self):
        if self.weights and self.resume:
            raise ValueError("give a starting checkpoint (weights) or a run to resume, not both")
        if self.val_split is not None and self.val_annotations:
            raise ValueError("give a validation set (--val-annotations) or a share to hold out (--val-split), "
                             "not both")
        if self.val_split is not None and not 0 < self.val_split < 1:
            raise ValueError(f"--val-split is a share of the training images, between 0 and 1: got {self.val_split}")
        if self.best_metric not in METRIC_NAMES:
            raise ValueError(f"unknown --best-metric {self.best_metric!r}; choose one of {', '.join(METRIC_NAMES)}")
        if self.patience is not None and not self.validates:
            raise ValueError("--patience counts evaluations: give a validation set (--val-annotations or --val-split)")
        if self.patience is not None and self.patience < 1 or self.val_every < 1:
            raise ValueError("--patience and --val-every count evaluations and epochs: at least 1")

    @property
    def validates(self) -> bool:
        return bool(self.val_annotations) or self.val_split is not None

CHECKPOINT_PREFIX = "ssd_resnet50"
BEST_CHECKPOINT, LAST_CHECKPOINT = "best.ckpt", "last.ckpt"
VALIDATION_SET = "val.json"  # the validation set as COCO ground truth, to re-evaluate a checkpoint with `eval`
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
    counting the checkpoints an earlier run left there (a resumed run's); `last.ckpt` follows
    the newest, and `save_best` keeps `best.ckpt`.

    Each file is written under a temporary name in the same directory and renamed when
    complete, so a run killed while saving never leaves a cut-short checkpoint under a
    checkpoint's name (only a hidden `.*.partial.ckpt`, removed by the next writer). `last.ckpt`
    and `best.ckpt` are hard links to the rotating file of the same state where the file system
    allows (no second copy on disk), else copies; rotating the file away leaves them intact.
    """

    def __init__(self, directory, keep):
        self.directory, self.keep = directory, max(int(keep), 1)
        os.makedirs(directory, exist_ok=True)
        for stale in glob.glob(os.path.join(directory, ".*.partial.ckpt")):
            os.remove(stale)
        self.written = run_checkpoints(directory)
        self.newest = None  # (step, path) of the last file written by this writer

    def _atomic(self, path, write):
        partial = os.path.join(self.directory, f".{os.path.basename(path)[:-5]}.partial.ckpt")
        try:
            write(partial)
            with open(partial, "rb") as written:
                os.fsync(written.fileno())
            os.replace(partial, path)
        finally:
            if os.path.exists(partial):
                os.remove(partial)
        return path

    def _alias(self, source, name):
        def link(partial):
            try:
                os.link(source, partial)
            except OSError:  # no hard links here: a copy
                shutil.copyfile(source, partial)

        return self._atomic(os.path.join(self.directory, name), link)

    def save(self, train_step, epoch, step):
        path = os.path.join(self.directory, f"{CHECKPOINT_PREFIX}-{epoch}_{step}.ckpt")
        self._atomic(path, lambda partial: ms.save_checkpoint(train_step, partial))
        if path in self.written:
            self.written.remove(path)
        self.written.append(path)
        self.newest = (step, path)
        self._alias(path, LAST_CHECKPOINT)
        while len(self.written) > self.keep:
            old = self.written.pop(0)
            if os.path.exists(old):
                os.remove(old)
        return path

    def save_best(self, train_step, step):
        """`best.ckpt` holding the current state (at global step `step`)."""
        if self.newest and self.newest[0] == step and os.path.exists(self.newest[1]):
            return self._alias(self.newest[1], BEST_CHECKPOINT)
        return self._atomic(os.path.join(self.directory, BEST_CHECKPOINT),
                            lambda partial: ms.save_checkpoint(train_step, partial))


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
    source, val_source = open_data(options)
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
    train_step = TrainStep(SsdWithLoss(network, config, terms=True), create_optimizer(network, rates, config),
                           config.loss_scale, config.grad_clip_norm)
    step = 0
    if options.resume == "auto":
        resumed, step = restore_newest(train_step, options.out)
        print(f"resuming {resumed} at step {step}", flush=True)
    elif options.resume:
        step = restore(train_step, options.resume)
    train_step.set_train()

    writer = CheckpointWriter(options.out, options.keep) if world.is_main else None
    history = _describe_run(options, labels, config, world, val_source) if world.is_main else None
    validation = None
    if val_source is not None:
        earlier = _earlier_evaluations(options.out, step) if options.resume else []
        validation = Validator(val_source, config, world, batch_size=min(options.batch_size, 8)), \
            Selection(options.best_metric, options.patience, options.min_delta, earlier)
    print(f"rank {world.rank}/{world.size}: {len(source)} images, {steps_per_epoch} steps an epoch, "
          f"{len(labels.names)} classes ({', '.join(labels.names)}), {config.image_size[0]} px, "
          f"steps {step} -> {last_step}"
          + (f"; validating on {len(val_source.images)} images" if val_source else ""), flush=True)

    try:
        step, reason = _loop(train_step, dataset, rates, step, last_step, steps_per_epoch, options, writer, history,
                             validation)
    finally:
        if history:
            history.close()
    print(f"rank {world.rank}: {reason}", flush=True)
    if world.is_main:
        _record_stop(options.out, reason, step)
        if validation and options.plots:
            _draw_predictions(validation[0], options.out)
    digest = weights_digest({p.name: p.asnumpy() for p in network.trainable_params()})
    print(f"rank {world.rank}: finished at step {step}; trainable weights digest {digest}", flush=True)
    return step


def open_data(options):
    """(training source, validation source or None) from the options' data set(s)."""
    source = open_source(options.annotations, options.images, options.format, classes=options.classes)
    if options.val_split is not None:
        return source.split(options.val_split, options.seed)
    if not options.val_annotations:
        return source, None
    val_source = open_source(options.val_annotations, options.val_images, options.format, split="val",
                             labels=source.labels, require_boxes=False)
    training = {os.path.realpath(os.path.join(source.images_dir, r.file_name)) for r in source.images}
    shared = sum(os.path.realpath(os.path.join(val_source.images_dir, r.file_name)) in training
                 for r in val_source.images)
    if shared:
        log.warning("%d of the %d validation images are training images too: their scores say little about "
                    "new images", shared, len(val_source.images))
    return source, val_source


def _earlier_evaluations(directory, step):
    """The evaluation records a resumed run had logged up to its checkpoint's step."""
    try:
        return [record for record in read_history(directory)[1] if record["step"] <= step]
    except FileNotFoundError:
        return []


def _describe_run(options, labels, config, world, val_source):
    """Write labels.json, train_config.json (and val.json); return the run's history for appending."""
    os.makedirs(options.out, exist_ok=True)
    save_label_set(labels, os.path.join(options.out, "labels.json"))
    lr_init = default_init_lr(options.lr) if options.lr_init is None else options.lr_init
    described = {"image_size": list(config.image_size), "num_classes": config.num_classes,
                 "classes": list(labels.names), "world_size": world.size, "batch_size": options.batch_size,
                 "epochs": options.epochs, "lr": options.lr, "lr_init": lr_init, "seed": options.seed,
                 "annotations": options.annotations, "format": options.format}
    if val_source is not None:
        with open(os.path.join(options.out, VALIDATION_SET), "w") as f:
            json.dump(val_source.to_coco(), f)
        described["validation"] = {"images": len(val_source.images), "images_dir": val_source.images_dir,
                                   "ground_truth": VALIDATION_SET, "split": options.val_split,
                                   "annotations": options.val_annotations, "every": options.val_every,
                                   "best_metric": options.best_metric, "patience": options.patience,
                                   "min_delta": options.min_delta}
    _write_json(os.path.join(options.out, "train_config.json"), described)
    return RunHistory(options.out)


def _write_json(path, data):
    with open(path + ".partial", "w") as f:
        json.dump(data, f, indent=1)
    os.replace(path + ".partial", path)


def _record_stop(directory, reason, step):
    path = os.path.join(directory, "train_config.json")
    with open(path) as f:
        described = json.load(f)
    described.update(stop_reason=reason, final_step=step)
    _write_json(path, described)


def _draw_predictions(validator, directory):
    """val_predictions.png with best.ckpt's weights (the last weights when there is no best)."""
    best = os.path.join(directory, BEST_CHECKPOINT)
    if os.path.exists(best):
        validator.load(read_checkpoint(best))
    try:
        print(f"drew {draw_predictions(validator.detector, validator.source, os.path.join(directory, PREDICTIONS_FILE))}",
              flush=True)
    except ValueError as error:
        log.warning("%s not drawn: %s", PREDICTIONS_FILE, error)


def weights_digest(params: dict) -> str:
    """A short hash of the trainable network tensors ({name: array}; `network.*` names other than
    BatchNorm's moving statistics). Data-parallel workers print it: equal digests, equal weights."""
    digest = hashlib.sha256()
    for name in sorted(params):
        if name.startswith("network.") and ".moving_" not in name:
            digest.update(name.encode())
            digest.update(np.ascontiguousarray(params[name], np.float32).tobytes())
    return digest.hexdigest()[:16]


def _loop(train_step, dataset, rates, step, last_step, steps_per_epoch, options, writer, history, validation):
    """Train from `step` to `last_step`; returns (step reached, why the run stopped)."""
    first_epoch, skip = divmod(step, steps_per_epoch)
    if step >= last_step:
        return step, f"nothing to do: step {step} already reached"
    iterator = dataset.create_tuple_iterator(num_epochs=options.epochs - first_epoch)
    started, recent = time.time(), []
    since_evaluation = _Since()
    for epoch in range(first_epoch + 1, options.epochs + 1):
        for images, loc_targets, anchor_labels in iterator:  # one epoch
            if skip:  # the batches of a resumed epoch that were trained before
                skip -= 1
                continue
            terms = [float(t.asnumpy()) for t in train_step(images, loc_targets, anchor_labels)]
            step += 1
            loss = terms[0]
            if not math.isfinite(loss):
                raise FloatingPointError(f"the loss became {loss} at step {step}; try a lower --lr")
            recent.append(loss)
            since_evaluation.add(terms)
            if history:
                record = {"step": step, "epoch": epoch, **dict(zip(LOSS_TERMS, terms)), "lr": float(rates[step - 1])}
                history.step(record)
            if step % options.log_every == 0 or step == last_step:
                pace = (time.time() - started) / len(recent)
                print(f"epoch {epoch} step {step}/{last_step} loss {np.mean(recent):.4f} "
                      f"lr {rates[step - 1]:.5f} ({pace:.2f} s/step)", flush=True)
                started, recent = time.time(), []
            epoch_end = step % steps_per_epoch == 0
            due = options.save_every and step % options.save_every == 0
            if writer and (step == last_step or due or (not options.save_every and epoch_end)):
                print(f"saved {writer.save(train_step, epoch, step)}", flush=True)
            if validation and (step == last_step or (epoch_end and epoch % options.val_every == 0)):
                stop = _evaluate(validation, train_step, epoch, step, rates, since_evaluation, options, writer,
                                 history)
                if stop:
                    iterator.stop()
                    if writer and (writer.newest is None or writer.newest[0] != step):
                        print(f"saved {writer.save(train_step, epoch, step)}", flush=True)
                    return step, stop
                started = time.time()  # the pace of training alone
            if step >= last_step:
                iterator.stop()
                return step, (f"reached --max-steps {options.max_steps}" if step == options.max_steps
                              else f"finished {options.epochs} epochs")
    return step, f"finished {options.epochs} epochs"


class _Since:
    """Loss terms and training time since the previous evaluation."""

    def __init__(self):
        self.terms, self.started = [], time.time()

    def add(self, terms):
        self.terms.append(terms)

    def take(self):
        means = np.mean(self.terms, axis=0).tolist() if self.terms else [float("nan")] * len(LOSS_TERMS)
        seconds = time.time() - self.started
        self.terms = []
        return dict(zip(LOSS_TERMS, means)), seconds

    def restart(self):
        self.started = time.time()


def _evaluate(validation, train_step, epoch, step, rates, since, options, writer, history):
    """One evaluation: log it, keep best.ckpt, redraw results.png; returns the stop reason or None."""
    validator, selection = validation
    losses, train_seconds = since.take()
    started = time.time()
    metrics = validator(train_step.network.network)
    seconds = time.time() - started
    number = selection.count + 1
    record = {"evaluation": number, "step": step, "epoch": epoch, **losses, "lr": float(rates[step - 1]),
              **metrics.as_dict(), "seconds": round(seconds, 3), "train_seconds": round(train_seconds, 3)}
    improved = selection.update(record)
    if history:
        history.evaluation(record)
    if writer and improved:
        writer.save_best(train_step, step)
    best = selection.best
    print(f"evaluation {number} (epoch {epoch}, step {step}): {metrics.summary_line()}  loss {losses['loss']:.4f}  "
          f"[{seconds:.1f} s; best {options.best_metric} {best[options.best_metric]:.4f} at evaluation "
          f"{best['evaluation']}{', saved best.ckpt' if improved and writer else ''}]", flush=True)
    if history and options.plots:
        if plotting_available():
            draw_results(options.out)
        elif number == 1:
            print(PLOT_EXTRA_NOTE, flush=True)
    since.restart()
    if selection.exhausted:
        reason = selection.stop_reason()
        print(reason, flush=True)
        return reason
    return None
