"""YOLO txt annotations (Ultralytics' layout; labelImg, CVAT, Roboflow exports) as training samples.

    >>> source = YoloDetectionSource("shapes/data.yaml")                # its `train` split
    >>> source = YoloDetectionSource("shapes/", split="val")            # the folder holding data.yaml

`data.yaml` names the classes (`names`: a list, or a mapping from class index to name; `nc`, if
given, must agree) and the splits: `train`, `val` (an image folder, a text file listing images,
or a list of those), relative to `path` (itself relative to the yaml file's folder; default:
that folder). A folder without a `train` entry trains on its `images/`. Each image
`.../images/.../name.jpg` has its labels in `.../labels/.../name.txt`, one box a line:
`class cx cy w h`, the centre and size normalised to the image (an image without a label file
has no boxes). Class index k becomes label k + 1 and category id k + 1 in COCO terms.

A line without 5 numbers is named (file and line) and left out; a class index beyond `names` is
an error naming the file and line; a label file without an image is reported; boxes outside the
image are clipped and degenerate ones dropped, with counts (see `BoxChecks`).
"""
import glob
import logging
import os

from ...model.categories import coco_label_set
from .source import MISSING_SHOWN, BoxChecks, DataError, DetectionSource, ImageRecord, image_size

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".bmp", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp")
DATA_FILES = ("data.yaml", "data.yml")


def find_data_yaml(path):
    """`path` itself when it is a yaml file, else the data.yaml inside the folder `path`."""
    path = os.fspath(path)
    if os.path.isfile(path):
        return path
    for name in DATA_FILES:
        if os.path.isfile(os.path.join(path, name)):
            return os.path.join(path, name)
    raise FileNotFoundError(f"{path}: a YOLO data set needs a data.yaml naming its classes (names: [...])")


def read_data_yaml(path):
    """(root folder, {split: entry}, class names) of a data.yaml, checked."""
    import yaml

    with open(path) as f:
        try:
            data = yaml.safe_load(f)
        except yaml.YAMLError as error:
            raise DataError(f"{path}: not valid YAML ({error})") from error
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a mapping with names: [...], found {type(data).__name__}")
    names = data.get("names")
    if isinstance(names, dict):
        try:
            indices = sorted(int(k) for k in names)
        except (TypeError, ValueError):
            raise DataError(f"{path}: names must map class indices 0..n-1 to names") from None
        if indices != list(range(len(indices))):
            raise DataError(f"{path}: names must map class indices 0..{len(indices) - 1} without gaps, "
                            f"found {indices}")
        names = [names[k] if k in names else names[str(k)] for k in indices]
    if not isinstance(names, list) or not names or not all(isinstance(n, (str, int)) for n in names):
        raise DataError(f"{path}: names must be a non-empty list of class names (or index: name)")
    if "nc" in data and data["nc"] != len(names):
        raise DataError(f"{path}: nc is {data['nc']} but names lists {len(names)} classes")
    folder = os.path.dirname(os.path.abspath(path))
    root = os.path.normpath(os.path.join(folder, str(data["path"]))) if data.get("path") else folder
    splits = {key: data[key] for key in ("train", "val", "test") if data.get(key)}
    return root, splits, [str(n) for n in names]


def split_images(root, entry):
    """Absolute image paths of a split entry (a folder, a text file listing images, or a list)."""
    entries = entry if isinstance(entry, list) else [entry]
    found = []
    for item in entries:
        item = os.path.normpath(os.path.join(root, str(item)))
        if os.path.isdir(item):
            found += sorted(p for p in glob.glob(os.path.join(item, "**", "*"), recursive=True)
                            if p.lower().endswith(IMAGE_EXTENSIONS))
        elif os.path.isfile(item):
            with open(item) as f:
                listed = [line.strip() for line in f if line.strip()]
            found += [os.path.normpath(os.path.join(os.path.dirname(item), p)) for p in listed]
        else:
            raise FileNotFoundError(f"YOLO split not found: {item}")
    return found


def label_path(image_path):
    """`.../images/.../a.jpg` -> `.../labels/.../a.txt` (Ultralytics' rule: the last images/)."""
    images, labels = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    head, sep, tail = image_path.rpartition(images)
    swapped = head + labels + tail if sep else image_path
    return os.path.splitext(swapped)[0] + ".txt"


class YoloDetectionSource(DetectionSource):
    """Random-access YOLO txt reader (see the module docstring and `DetectionSource`).

    Args:
        path: a data.yaml, or the folder holding it.
        images: unused for YOLO (images are where data.yaml says); accepted for a common signature.
        split: which entry of data.yaml to read ("train", "val", "test").
        classes: optional names or class indices + 1 to train, labelled 1..K in that order.
        labels: a `LabelSet` to use instead (the training set's, for its validation set), matched by name.
        require_boxes: False accepts a set without any usable box (a validation set).
    """

    def __init__(self, path, images=None, split="train", classes=None, labels=None, require_boxes=True):
        data_yaml = find_data_yaml(path)
        root, splits, names = read_data_yaml(data_yaml)
        if split not in splits and split == "train" and os.path.isdir(os.path.join(root, "images")):
            splits["train"] = "images"
        if split not in splits:
            raise DataError(f"{data_yaml}: no {split!r} entry (the image folder or list of that split)")
        image_paths = split_images(root, splits[split])
        if not image_paths:
            raise ValueError(f"{data_yaml}: the {split!r} split ({splits[split]}) holds no images")
        categories = [{"id": k + 1, "name": name} for k, name in enumerate(names)]
        labels = labels or coco_label_set(categories, classes)
        label_of_index = {}
        for k, name in enumerate(names):
            if name in labels.names:
                label_of_index[k] = labels.names.index(name) + 1
        images_dir = os.path.commonpath([os.path.dirname(p) for p in image_paths])
        origin = f"{data_yaml} ({split})"
        checks = BoxChecks(origin)
        records = []
        for image_path in image_paths:
            size = image_size(image_path)
            file_name = os.path.relpath(image_path, images_dir)
            if size is None:
                checks.skipped(image_path, "missing or not a readable image; image left out")
                continue
            objects = self._read_labels(label_path(image_path), size, len(names), label_of_index, checks)
            records.append(ImageRecord(file_name, size[0], size[1], tuple(objects)))
        self._report_orphans(image_paths, origin)
        checks.report()
        super().__init__(records, labels, images_dir, origin=origin, require_boxes=require_boxes)

    @staticmethod
    def _read_labels(path, size, num_names, label_of_index, checks):
        """[(label, box in pixels), ...] of one label file (none when it does not exist)."""
        if not os.path.isfile(path):
            return []
        width, height = size
        objects = []
        with open(path) as f:
            lines = f.read().splitlines()
        for number, line in enumerate(lines, 1):
            where = f"{path}:{number}"
            values = line.split()
            if not values:
                continue
            try:
                numbers = [float(v) for v in values]
            except ValueError:
                checks.skipped(where, f"not numbers ({line.strip()[:60]!r}); line left out")
                continue
            if len(numbers) != 5:
                checks.skipped(where, f"{len(numbers)} numbers where a box has 5 (class cx cy w h); line left out")
                continue
            index, cx, cy, w, h = numbers
            if index != int(index) or not 0 <= index < num_names:
                raise DataError(f"{where}: class index {values[0]} is not one of the {num_names} classes of "
                                f"data.yaml (0..{num_names - 1})")
            label = label_of_index.get(int(index))
            if label is None:  # a class not selected
                continue
            box = checks.box((cx - w / 2) * width, (cy - h / 2) * height, w * width, h * height, width, height,
                             where)
            if box is not None:
                objects.append((label, box))
        return objects

    @staticmethod
    def _report_orphans(image_paths, origin):
        """Warn about label files of the split's label folders that belong to no image."""
        expected = {label_path(p) for p in image_paths}
        folders = {os.path.dirname(p) for p in expected}
        orphans = sorted(p for folder in folders for p in glob.glob(os.path.join(folder, "*.txt"))
                         if p not in expected and os.path.basename(p) != "classes.txt")
        if orphans:
            shown = ", ".join(orphans[:MISSING_SHOWN]) + (", ..." if len(orphans) > MISSING_SHOWN else "")
            log.warning("%s: %d label files have no image and are not used: %s",
                                                origin, len(orphans), shown)
