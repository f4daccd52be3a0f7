"""Training samples -> batches of (image, encoded boxes, anchor labels) for `SsdWithLoss`.

    >>> source = CocoDetectionSource("instances_train2017.json", "train2017/")
    >>> dataset = create_train_dataset(source, config, batch_size=32)
    >>> for images, loc_targets, labels in dataset.create_tuple_iterator(): ...

Any reader of `datasets` can be the source: they all give the same `Sample`s.
"""
import mindspore.dataset as ds

from ..inference.preprocess import normalise
from ..model.anchors import default_anchors
from ..model.config import SsdConfig
from .augment import TrainAugmentation
from .matching import match


class TrainTransform:
    """One sample -> (network input [3, h, w] float32, loc targets [N, 4], anchor labels [N])."""

    def __init__(self, config: SsdConfig, augment=None):
        self.config = config
        self.anchors = default_anchors(config)
        self.augment = augment

    def __call__(self, image, boxes, labels):
        if self.augment is not None:
            image, boxes, labels = self.augment(image, boxes, labels)
        targets = match(boxes, labels, self.anchors, self.config.match_iou_threshold, self.config.prior_scaling)
        return normalise(image, self.config), targets.loc, targets.labels


def create_train_dataset(source, config: SsdConfig, batch_size, augment=True, seed=None, shuffle=True,
                         num_shards=None, shard_id=None, num_workers=1, drop_remainder=True):
    """A batched `mindspore.dataset` of (image, loc targets, labels) for `SsdWithLoss`.

    With `num_shards`/`shard_id` (data-parallel training) each worker reads its own part.
    `augment` is True (the original recipe), False, or a callable like `TrainAugmentation`.
    `num_workers` > 1 transforms images in parallel threads sharing the augmentation's random
    generator: faster, but a seed then no longer fixes which image gets which augmentation.
    """
    if augment is True:
        augment = TrainAugmentation(seed=None if seed is None else [seed, shard_id or 0])
    dataset = ds.GeneratorDataset(source, ["image", "boxes", "labels"], shuffle=shuffle,
                                  num_shards=num_shards, shard_id=shard_id)
    dataset = dataset.map(TrainTransform(config, augment or None), input_columns=["image", "boxes", "labels"],
                          output_columns=["image", "loc", "labels"], num_parallel_workers=num_workers)
    return dataset.batch(batch_size, drop_remainder=drop_remainder)
