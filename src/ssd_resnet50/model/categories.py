"""Label sets: contiguous network label k (1..K-1) -> (dataset category id, name).

One place for them: COCO's, a fine-tuned model's names, an annotation file's categories,
the labels.json a training run writes.

Label 0 is background. COCO's 80 "thing" categories keep their dataset ids (1..90 with gaps).
"""
import json
import os
from dataclasses import dataclass

COCO_IDS = (
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 27, 28,
    31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55,
    56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 67, 70, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 84,
    85, 86, 87, 88, 89, 90,
)


@dataclass(frozen=True)
class LabelSet:
    """Category ids and names for labels 1..len(names)."""

    ids: tuple
    names: tuple

    def __post_init__(self):
        if len(self.ids) != len(self.names):
            raise ValueError(f"{len(self.ids)} category ids but {len(self.names)} names")

    @classmethod
    def from_names(cls, names):
        """A custom label set: ids 1..K in the given order (fine-tuned models)."""
        names = tuple(names)
        return cls(tuple(range(1, len(names) + 1)), names)

    @property
    def num_classes(self) -> int:
        """Network classes including background."""
        return len(self.names) + 1

    def category_id(self, label: int) -> int:
        return self.ids[label - 1]

    def name(self, label: int) -> str:
        return self.names[label - 1]

    def labels_of(self, classes) -> frozenset:
        """The labels (1..K) of `classes`, given by name or category id (ints or digit strings)."""
        position = {name: k for k, name in enumerate(self.names, 1)}
        position.update({str(i): k for k, i in enumerate(self.ids, 1)})
        missing = [str(key) for key in classes if str(key) not in position]
        if missing:
            raise ValueError(f"unknown classes {missing}: give names or category ids of this model's classes "
                             f"({', '.join(self.names[:12])}{', ...' if len(self.names) > 12 else ''})")
        return frozenset(position[str(key)] for key in classes)


def _coco_names():
    # Multi-word names were joined with "_" above to keep the table short; restore them.
    raw = (
        "person bicycle car motorcycle airplane bus train truck boat traffic_light fire_hydrant "
        "stop_sign parking_meter bench bird cat dog horse sheep cow elephant bear zebra giraffe "
        "backpack umbrella handbag tie suitcase frisbee skis snowboard sports_ball kite baseball_bat "
        "baseball_glove skateboard surfboard tennis_racket bottle wine_glass cup fork knife spoon bowl "
        "banana apple sandwich orange broccoli carrot hot_dog pizza donut cake chair couch "
        "potted_plant bed dining_table toilet tv laptop mouse remote keyboard cell_phone microwave "
        "oven toaster sink refrigerator book clock vase scissors teddy_bear hair_drier toothbrush"
    )
    return tuple(name.replace("_", " ") for name in raw.split())


COCO = LabelSet(COCO_IDS, _coco_names())


def coco_label_set(coco_categories, classes=None) -> LabelSet:
    """Labels 1..K of an annotation file's `categories` list, in the file's order.

    `classes` (names or ids, as strings or ints) picks a subset and gives its order.
    """
    ids = [int(c["id"]) for c in coco_categories]
    names = [str(c["name"]) for c in coco_categories]
    if len(set(ids)) != len(ids):
        raise ValueError(f"duplicate category ids in the annotation file: {ids}")
    if classes:
        position = {name: i for i, name in enumerate(names)}
        position.update({str(i): k for k, i in enumerate(ids)})
        missing = [str(key) for key in classes if str(key) not in position]
        if missing:
            raise ValueError(f"unknown classes {missing}; the annotation file has: {', '.join(names)}")
        chosen = [position[str(key)] for key in classes]
        if len(set(chosen)) != len(chosen):
            raise ValueError(f"a class is selected twice in {list(classes)}")
        ids, names = [ids[i] for i in chosen], [names[i] for i in chosen]
    return LabelSet(tuple(ids), tuple(names))


def save_label_set(labels: LabelSet, path):
    """Write labels as JSON [{label, id, name}, ...] next to the checkpoints."""
    entries = [{"label": k, "id": i, "name": n} for k, (i, n) in enumerate(zip(labels.ids, labels.names), 1)]
    with open(path, "w") as f:
        json.dump(entries, f, indent=1)


def labels_beside(checkpoint):
    """The label set of the training run a checkpoint came from (its labels.json, written
    beside the checkpoints), or None: a fine-tuned model then names its classes and keeps its
    data set's category ids without being told."""
    path = os.path.join(os.path.dirname(os.path.abspath(os.fspath(checkpoint))), "labels.json")
    if not os.path.isfile(path):
        return None
    try:
        return load_label_set(path)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: not a labels.json of a training run ({error}); fix or remove it, "
                         "or name the classes with labels=/--labels") from error


def load_label_set(path) -> LabelSet:
    with open(path) as f:
        entries = sorted(json.load(f), key=lambda entry: entry["label"])
    return LabelSet(tuple(e["id"] for e in entries), tuple(e["name"] for e in entries))


def resolve_labels(labels, num_classes) -> LabelSet:
    """The label set of a network: given labels (a LabelSet or names), else COCO's for 81
    classes, else placeholders; checked against `num_classes` when it is known."""
    if labels is None:
        if num_classes not in (None, COCO.num_classes):
            labels = LabelSet.from_names(f"class {k}" for k in range(1, num_classes))
        else:
            labels = COCO
    elif not isinstance(labels, LabelSet):
        labels = LabelSet.from_names(labels)
    if num_classes is not None and labels.num_classes != num_classes:
        raise ValueError(f"{len(labels.names)} labels do not fit a network with {num_classes - 1} object classes")
    return labels
