"""Label sets: contiguous network label k (1..K-1) -> (dataset category id, name).

Label 0 is background. COCO's 80 "thing" categories keep their dataset ids (1..90 with gaps).
"""
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
