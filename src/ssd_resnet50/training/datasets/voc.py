"""Pascal VOC XML annotations (labelImg, CVAT, Roboflow exports; the VOCdevkit) as training samples.

    >>> source = VocDetectionSource("VOCdevkit/VOC2012", split="train")      # ImageSets/Main/train.txt
    >>> source = VocDetectionSource("VOCdevkit/VOC2012/ImageSets/Main/val.txt")
    >>> source = VocDetectionSource("annotations/", images="photos/")         # a folder of XML files

Layouts: a VOCdevkit year folder (`Annotations/`, `JPEGImages/`, `ImageSets/Main/<split>.txt`; every
file of `Annotations/` when there is no split file), one split file of it, or a plain folder of
XML files (images in `images`, by default beside the XML files). Each XML names its image
(`filename`) and size; VOC's corners are 1-based pixels, so a box is x = xmin - 1, y = ymin - 1,
w = xmax - xmin, h = ymax - ymin (the convention of Ultralytics' VOC converter).

Objects marked `difficult` are no training targets and are ignored by evaluation, as VOC does.
VOC files carry no class list: `classes` is that list (names in label order, and a box of
another name is an error naming the file and line: a typo, most often); without it, every
name found, sorted. An XML file that does not parse is named and left out; boxes outside the
image are clipped and degenerate ones dropped, with counts (see `BoxChecks`).
"""
import glob
import os

from ...model.categories import LabelSet
from .source import BoxChecks, DataError, DetectionSource, ImageRecord, image_size

CORNERS = ("xmin", "ymin", "xmax", "ymax")


def _xml_parser():
    from lxml import etree

    # Untrusted files: no entity expansion, no DTD, nothing fetched.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def voc_layout(path, images=None, split="train"):
    """(XML files, images directory, description) of a VOC data set at `path` (see the module)."""
    path = os.fspath(path)
    if os.path.isfile(path):  # a split file: <root>/ImageSets/Main/<split>.txt
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(path))))
        with open(path) as f:
            ids = [line.split()[0] for line in f if line.strip()]
        xml_files = [os.path.join(root, "Annotations", f"{image_id}.xml") for image_id in ids]
        return xml_files, images or os.path.join(root, "JPEGImages"), path
    if not os.path.isdir(path):
        raise FileNotFoundError(f"VOC data set not found: {path}")
    if os.path.isdir(os.path.join(path, "Annotations")):  # a VOCdevkit year folder
        split_file = os.path.join(path, "ImageSets", "Main", f"{split}.txt")
        if os.path.isfile(split_file):
            return voc_layout(split_file, images)
        xml_files = sorted(glob.glob(os.path.join(path, "Annotations", "*.xml")))
        return xml_files, images or os.path.join(path, "JPEGImages"), path
    return sorted(glob.glob(os.path.join(path, "*.xml"))), images or path, path


def _text(element, tag):
    found = element.find(tag)
    return found.text.strip() if found is not None and found.text else None


class VocDetectionSource(DetectionSource):
    """Random-access Pascal VOC reader (see the module docstring and `DetectionSource`).

    Args:
        path: a VOCdevkit year folder, one of its split files, or a folder of XML files.
        images: the images' directory (default: the layout's, see the module docstring).
        split: which `ImageSets/Main/<split>.txt` of a year folder to read.
        classes: the class names in label order (default: every name found, sorted).
        labels: a `LabelSet` to use instead (the training set's, for its validation set).
        require_boxes: False accepts a set without any usable box (a validation set).
    """

    def __init__(self, path, images=None, split="train", classes=None, labels=None, require_boxes=True):
        xml_files, images_dir, origin = voc_layout(path, images, split)
        if not xml_files:
            raise ValueError(f"{origin}: no VOC annotation (.xml) files")
        checks = BoxChecks(origin)
        parsed = [(xml, self._parse(xml, checks)) for xml in xml_files]
        parsed = [(xml, found) for xml, found in parsed if found is not None]
        if labels is None:
            names = [str(name) for name in classes] if classes else sorted(
                {obj[0] for _, (_, _, _, objects) in parsed for obj in objects})
            if len(set(names)) != len(names):
                raise ValueError(f"a class is named twice in {names}")
            labels = LabelSet.from_names(names)
        label_of = {name: k for k, name in enumerate(labels.names, 1)}
        records = []
        for xml, (file_name, width, height, objects) in parsed:
            if not width or not height:
                width, height = image_size(os.path.join(images_dir, file_name)) or (0, 0)
            targets, ignored = [], []
            for name, difficult, corners, line in objects:
                where = f"{xml}:{line}"
                if name not in label_of:
                    raise DataError(f"{where}: unknown class {name!r}; the classes are: {', '.join(labels.names)} "
                                    f"(name every class of the files with --classes)")
                xmin, ymin, xmax, ymax = corners
                box = checks.box(xmin - 1, ymin - 1, xmax - xmin, ymax - ymin, width or float("inf"),
                                 height or float("inf"), where)
                if box is not None:
                    (ignored if difficult else targets).append((label_of[name], box))
            records.append(ImageRecord(file_name, width, height, tuple(targets), tuple(ignored)))
        checks.report()
        super().__init__(records, labels, images_dir, origin=origin, require_boxes=require_boxes)

    @staticmethod
    def _parse(xml, checks):
        """(image file name, width, height, [(name, difficult, corners, line), ...]) of one XML
        file, or None (recorded in `checks`) when it cannot be used."""
        from lxml import etree

        try:
            root = etree.parse(xml, _xml_parser()).getroot()
        except OSError as error:
            checks.skipped(xml, f"cannot be read ({error}); file left out")
            return None
        except etree.XMLSyntaxError as error:
            checks.skipped(f"{xml}:{error.lineno}", f"not well-formed XML ({error.msg}); file left out")
            return None
        file_name = _text(root, "filename") or os.path.splitext(os.path.basename(xml))[0] + ".jpg"
        try:
            width, height = int(float(_text(root, "size/width") or 0)), int(float(_text(root, "size/height") or 0))
        except ValueError:
            width, height = 0, 0  # read from the image instead
        objects = []
        for element in root.iter("object"):
            name, line = _text(element, "name"), element.sourceline
            box = element.find("bndbox")
            try:
                corners = tuple(float(_text(box, tag)) for tag in CORNERS)
                difficult = int(float(_text(element, "difficult") or 0))
            except (TypeError, ValueError, AttributeError):
                checks.skipped(f"{xml}:{line}", "an object without a name and four numeric bndbox corners; "
                                                "object left out")
                continue
            if not name:
                checks.skipped(f"{xml}:{line}", "an object without a name; object left out")
                continue
            objects.append((name, bool(difficult), corners, line))
        return file_name, width, height, objects
