"""Validation while training: the network being trained, scored with the project's COCO evaluation.

    >>> validator = Validator(val_source, config, world)
    >>> metrics = validator(training_network)        # a `Metrics`: AP, AP50, AP75, ...
    >>> selection = Selection("AP", patience=5, min_delta=0.001)
    >>> improved = selection.update({"evaluation": 1, "epoch": 1, "step": 100, **metrics.as_dict()})

The weights are copied into an inference network of the same configuration and run through a
`Detector` (MindSpore backend, inference mode: BatchNorm's moving statistics, no augmentation,
the evaluation's post-processing), then `inference.evaluation` scores the detections against
the validation set as COCO ground truth: the code of `ssd-resnet50 eval`, so a checkpoint
re-evaluated with `eval` gives the logged numbers.

Under msrun every worker detects its shard of the validation images (image i goes to worker
i mod N); the detections are gathered on every worker, each scores the whole set the same way,
and all take the same decisions (best checkpoint, early stop) without further messages.
"""
import logging

import numpy as np

from ..inference.detector import Detector
from ..inference.evaluation import METRIC_NAMES, coco_metrics, detect_images, load_ground_truth
from ..model.checkpoint import CheckpointMismatch
from ..model.network import create_network
from .distributed import World, all_gather_rows

log = logging.getLogger(__name__)
BOX_SCALE, SCORE_SCALE = 100, 100_000  # COCO results carry boxes to 2 decimals and scores to 5


class Validator:
    """Scores a training network on a validation `DetectionSource` (see the module docstring)."""

    def __init__(self, source, config, world: World = World(), batch_size=8):
        self.source = source
        self.ground_truth = load_ground_truth(source.to_coco())
        self.world = world
        self.network = create_network(num_classes=config.num_classes, image_size=config.image_size)
        self.detector = Detector(self.network, backend="mindspore", labels=source.labels, batch_size=batch_size)
        image_ids = self.ground_truth.getImgIds()
        self.image_ids = image_ids[world.rank::world.size] if world.distributed else image_ids
        self.reported = set()  # unreadable validation images, each warned about once

    def load(self, params: dict):
        """Copy weights ({`network.*` name: Parameter or Tensor}, a training network's or a
        checkpoint's) into the validator's network. The copy is in place: the detector's compiled
        graph reads the parameters where they are, and would keep the old values of replaced ones."""
        problems = [name for name, param in ((p.name, p) for p in self.network.get_parameters())
                    if name not in params or tuple(params[name].shape) != tuple(param.shape)]
        if problems:
            raise CheckpointMismatch(f"{len(problems)} validation network parameters have no counterpart of their "
                                     f"shape: {', '.join(problems[:5])}")
        for param in self.network.get_parameters():
            param.copy_(params[param.name])

    def __call__(self, network):
        """The `Metrics` of `network`'s current weights on the validation set."""
        self.load({p.name: p for p in network.get_parameters()})
        results, done, failed = detect_images(self.detector, self.ground_truth, self.source.images_dir,
                                              self.image_ids, no_progress=True)
        for image_id, error in failed:
            if image_id not in self.reported:
                self.reported.add(image_id)
                log.warning("validation image left out: %s", error)
        if self.world.distributed:
            results, done = gather_results(results, done)
        if not done:
            raise ValueError(f"none of the {len(self.ground_truth.getImgIds())} validation images can be read")
        return coco_metrics(self.ground_truth, results, done)


def gather_results(results, done):
    """Every worker's COCO results and evaluated image ids, on every worker, exactly."""
    rows = np.array([[r["image_id"], r["category_id"], *np.round(np.array(r["bbox"]) * BOX_SCALE),
                      round(r["score"] * SCORE_SCALE)] for r in results], np.int64).reshape(-1, 7)
    gathered = all_gather_rows(rows)
    results = [{"image_id": int(row[0]), "category_id": int(row[1]),
                "bbox": [int(v) / BOX_SCALE for v in row[2:6]], "score": int(row[6]) / SCORE_SCALE}
               for row in gathered]
    done = all_gather_rows(np.array(done, np.int64).reshape(-1, 1))[:, 0].tolist()
    return results, sorted(done)


class Selection:
    """Which evaluation is best by `metric` (higher is better), and when patience runs out.

    `best` is the evaluation of the highest value so far (the first one of a tie): best.ckpt.
    Patience counts evaluations since the last one that raised the metric by more than
    `min_delta` over the value of the previous such one (a noise-level rise does not reset it,
    as in Keras' EarlyStopping); `patience` N stops the run after N of them (None: never).
    `earlier` evaluation records (a resumed run's history) restore the state a run had reached.
    """

    def __init__(self, metric="AP", patience=None, min_delta=0.0, earlier=()):
        if metric not in METRIC_NAMES:
            raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(METRIC_NAMES)}")
        if patience is not None and patience < 1:
            raise ValueError(f"patience counts evaluations: at least 1, got {patience}")
        if min_delta < 0:
            raise ValueError(f"the smallest improvement cannot be negative, got {min_delta}")
        self.metric, self.patience, self.min_delta = metric, patience, float(min_delta)
        self.best = None  # the record of the best evaluation so far
        self.reference = None  # the value of the last significant improvement
        self.waited = 0  # evaluations since then
        self.count = 0  # evaluations so far
        for record in earlier:
            self.update(record)

    def update(self, record: dict) -> bool:
        """Take an evaluation record ({metric: value, "evaluation": n, ...}); True when it is the new best."""
        self.count += 1
        value = record[self.metric]
        if self.reference is None or value > self.reference + self.min_delta:
            self.reference, self.waited = value, 0
        else:
            self.waited += 1
        if self.best is None or value > self.best[self.metric]:
            self.best = dict(record)
            return True
        return False

    @property
    def exhausted(self) -> bool:
        return self.patience is not None and self.waited >= self.patience

    def stop_reason(self) -> str:
        best = self.best
        return (f"early stop: {self.metric} did not rise by more than {self.min_delta:g} in {self.waited} "
                f"evaluations (--patience {self.patience}); best {self.metric} {best[self.metric]:.4f} at "
                f"evaluation {best['evaluation']} (epoch {best['epoch']}, step {best['step']})")
