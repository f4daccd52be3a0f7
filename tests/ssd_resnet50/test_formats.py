"""Pascal VOC and YOLO readers: the same samples as the COCO reader, `convert` to COCO, and their
messages about malformed input (file and line named, the rest of the data set used)."""
import json
import logging
import os
import shutil

import numpy as np
import pytest

from ssd_resnet50.cli import main as cli_main
from ssd_resnet50.training.datasets import (CocoDetectionSource, DataError, VocDetectionSource, YoloDetectionSource,
                                            detect_format, open_source)
from tests.ssd_resnet50.synthetic import make_shapes_dataset, write_voc, write_yolo

CLASSES = ["square", "disc", "triangle"]  # the COCO file's category order: labels 1, 2, 3


@pytest.fixture(scope="module")
def three_formats(shapes_coco, tmp_path_factory):
    """The generated set (crowd box, empty image, three classes) as COCO, VOC and YOLO."""
    annotations, images = shapes_coco
    root = tmp_path_factory.mktemp("formats")
    voc = write_voc(annotations, images, str(root / "VOC"))
    yolo = write_yolo(annotations, images, str(root / "yolo"))
    return annotations, images, voc, yolo


def samples(source):
    """{file name: (image, boxes, labels)} of every training sample."""
    return {name: source.sample(index) for index, (name, _) in enumerate(source.records)}


def test_the_three_readers_give_identical_samples(three_formats):
    annotations, images, voc, yolo = three_formats
    coco = CocoDetectionSource(annotations, images)
    readers = {"voc": VocDetectionSource(voc, classes=CLASSES), "yolo": YoloDetectionSource(yolo)}
    expected = samples(coco)
    assert len(expected) == 8  # 9 images, one without boxes
    for name, source in readers.items():
        assert source.labels.names == tuple(CLASSES), name
        assert [r for r, _ in source.records] == [r for r, _ in coco.records], name
        found = samples(source)
        for file_name, sample in expected.items():
            other = found[file_name]
            np.testing.assert_array_equal(other.image, sample.image, err_msg=f"{name} {file_name}")
            np.testing.assert_array_equal(other.labels, sample.labels, err_msg=f"{name} {file_name}")
            np.testing.assert_allclose(other.boxes, sample.boxes, atol=1e-6, err_msg=f"{name} {file_name}")
        assert len(source.images) == len(coco.images) == 9  # the empty image stays, for validation
    # the crowd box of image 1 is VOC's difficult: no target, but kept to be ignored by evaluation
    assert readers["voc"].images[0].ignored == coco.images[0].ignored != ()


def boxes_by_file(coco_data, crowd=None):
    """{file name: sorted [(category name, rounded bbox), ...]} of a COCO dict."""
    names = {c["id"]: c["name"] for c in coco_data["categories"]}
    files = {image["id"]: image["file_name"] for image in coco_data["images"]}
    found = {name: [] for name in files.values()}
    for ann in coco_data["annotations"]:
        if crowd is None or ann["iscrowd"] == crowd:
            found[files[ann["image_id"]]].append((names[ann["category_id"]], ann["iscrowd"],
                                                  tuple(round(v, 6) for v in ann["bbox"])))
    return {name: sorted(boxes) for name, boxes in found.items()}


def test_convert_round_trips_voc_and_yolo_to_coco(three_formats, tmp_path, capsys):
    annotations, images, voc, yolo = three_formats
    with open(annotations) as f:
        original = json.load(f)
    out = tmp_path / "voc.json"
    assert cli_main(["convert", voc, "--from", "voc", "--to", "coco", "--classes", *CLASSES, "--out", str(out)]) == 0
    assert "wrote 9 images" in capsys.readouterr().out
    converted = json.loads(out.read_text())
    assert boxes_by_file(converted) == boxes_by_file(original)  # crowd boxes came back as iscrowd 1
    assert [c["name"] for c in converted["categories"]] == CLASSES

    out = tmp_path / "yolo.json"
    assert cli_main(["convert", yolo, "--out", str(out)]) == 0  # the format told from data.yaml
    converted = json.loads(out.read_text())
    assert boxes_by_file(converted) == boxes_by_file(original, crowd=0)  # YOLO has no crowd boxes
    assert {image["file_name"]: (image["width"], image["height"]) for image in converted["images"]} == \
        {image["file_name"]: (image["width"], image["height"]) for image in original["images"]}

    # the converted file trains like any COCO file: the same samples as the YOLO reader
    from_converted = CocoDetectionSource(out, os.path.join(os.path.dirname(yolo), "images", "train"))
    assert samples(from_converted).keys() == samples(YoloDetectionSource(yolo)).keys()
    assert cli_main(["convert", annotations, "--out", str(tmp_path / "x.json")]) == 1
    assert "is a COCO file already" in capsys.readouterr().err


def test_the_format_is_told_from_the_path(three_formats, tmp_path):
    annotations, images, voc, yolo = three_formats
    assert detect_format(annotations) == "coco"
    assert detect_format(voc) == "voc"
    assert detect_format(os.path.join(voc, "ImageSets", "Main", "all.txt")) == "voc"
    assert detect_format(os.path.join(voc, "Annotations")) == "voc"  # a folder of XML files
    assert detect_format(yolo) == detect_format(os.path.dirname(yolo)) == "yolo"
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="cannot tell the format.*--format"):
        detect_format(tmp_path / "empty")
    with pytest.raises(ValueError, match="needs the folder of its images"):
        open_source(annotations)


def test_voc_devkit_splits_and_difficult_boxes(three_formats, tmp_path):
    _, _, voc, _ = three_formats
    root = tmp_path / "VOC2012"
    shutil.copytree(voc, root)
    ids = (root / "ImageSets" / "Main" / "all.txt").read_text().split()
    (root / "ImageSets" / "Main" / "train.txt").write_text("\n".join(ids[:6]) + "\n")
    (root / "ImageSets" / "Main" / "val.txt").write_text("\n".join(ids[6:]) + "\n")
    train = open_source(str(root), classes=CLASSES)
    val = open_source(str(root), split="val", labels=train.labels, require_boxes=False)
    assert [r.file_name for r in train.images] == [f"{i}.png" for i in ids[:6]]
    assert [r.file_name for r in val.images] == [f"{i}.png" for i in ids[6:]]
    assert train.images_dir == str(root / "JPEGImages")
    # difficult: not a training target, an ignored region (iscrowd 1) in the ground truth
    first = train.images[0]
    assert first.ignored and all(label in (1, 2, 3) for label, _ in first.ignored)
    assert len(train.records[0][1]) == len(first.objects)
    crowd = [a for a in train.to_coco()["annotations"] if a["iscrowd"]]
    assert len(crowd) == len(first.ignored)


def warnings_of(caplog):
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


@pytest.fixture
def small_sets(tmp_path):
    """A 6-image generated set as VOC (a folder of XML beside its images) and as YOLO."""
    annotations, images = make_shapes_dataset(str(tmp_path / "coco"), num_images=6, image_size=64, seed=8)
    voc = write_voc(annotations, images, str(tmp_path / "voc"))
    yolo = write_yolo(annotations, images, str(tmp_path / "yolo"))
    return annotations, images, voc, yolo


def test_voc_xml_that_does_not_parse_is_named_and_left_out(small_sets, caplog):
    _, _, voc, _ = small_sets
    broken = os.path.join(voc, "Annotations", "0002.xml")
    with open(broken, "w") as f:
        f.write("<annotation>\n  <filename>0002.png</filename>\n  <object><name>disc</object>\n</annotation>\n")
    with caplog.at_level(logging.WARNING):
        source = VocDetectionSource(voc)
    messages = [m for m in warnings_of(caplog) if "0002.xml:3" in m]
    assert len(messages) == 1 and "not well-formed XML" in messages[0] and "file left out" in messages[0]
    assert [r.file_name for r in source.images] == ["0000.png", "0001.png", "0003.png", "0004.png", "0005.png"]


def test_voc_unknown_class_is_an_error_naming_file_and_line(small_sets):
    _, _, voc, _ = small_sets
    path = os.path.join(voc, "Annotations", "0003.xml")
    text = open(path).read()
    first = text.index("<name>")
    with open(path, "w") as f:
        f.write(text[:first] + "<name>dsic</name>" + text[text.index("</name>", first) + 7:])
    line = text[:first].count("\n") + 1
    with pytest.raises(DataError, match=rf"0003\.xml:{line - 1}: unknown class 'dsic'"):
        VocDetectionSource(voc, classes=["square", "disc"])


def test_voc_box_of_negative_size_is_named_and_dropped(small_sets, caplog):
    annotations, images, voc, _ = small_sets
    path = os.path.join(voc, "Annotations", "0001.xml")
    text = open(path).read()
    start = text.index("<xmax>") + len("<xmax>")
    text = text[:start] + "-5.0" + text[text.index("</xmax>"):]  # xmax < xmin: negative width
    with open(path, "w") as f:
        f.write(text)
    with caplog.at_level(logging.WARNING):
        source = VocDetectionSource(voc, classes=["square", "disc"])
    named = [m for m in warnings_of(caplog) if "negative size" in m]
    assert len(named) == 1 and f"{path}:" in named[0] and "1 boxes of negative size dropped" in named[0]
    coco = CocoDetectionSource(annotations, images)
    assert sum(len(o) for _, o in source.records) == sum(len(o) for _, o in coco.records) - 1  # only that box
    assert source.images[1].objects == coco.images[1].objects[1:]


def test_yolo_malformed_lines(small_sets, caplog):
    _, _, _, yolo = small_sets
    labels = os.path.join(os.path.dirname(yolo), "labels", "train")
    with open(os.path.join(labels, "0000.txt")) as f:
        lines = f.read().splitlines()
    good = len(lines)
    lines[0] = " ".join(lines[0].split()[:4])  # 4 numbers
    lines.append("1 0.5 0.5 -0.2 0.3")  # negative width
    lines.append("0 0.95 0.5 0.3 0.3")  # reaches past the right edge: clipped
    lines.append("1 0.5 0.5 0.0 0.3")  # zero area
    with open(os.path.join(labels, "0000.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(labels, "orphan.txt"), "w") as f:
        f.write("0 0.5 0.5 0.1 0.1\n")
    with caplog.at_level(logging.WARNING):
        source = YoloDetectionSource(yolo)
    messages = warnings_of(caplog)
    path = os.path.join(labels, "0000.txt")

    def one(text):
        found = [m for m in messages if text in m]
        assert len(found) == 1, (text, messages)
        return found[0]

    assert f"{path}:1: 4 numbers where a box has 5" in one("left out")
    assert f"{path}:{good + 1} (width -12.8" in one("1 boxes of negative size dropped")
    assert f"{path}:{good + 2}" in one("1 boxes reaching outside their image clipped")
    assert f"{path}:{good + 3}" in one("1 boxes of zero area dropped")
    assert "orphan.txt" in one("label files have no image")
    first = dict(source.records)["0000.png"]
    assert len(first) == (good - 1) + 1  # the other boxes of the file, and the clipped one
    x, y, w, h = first[-1][1]
    assert x + w == pytest.approx(64) and w == pytest.approx((1 - 0.8) * 64)
    assert len(source.records) == 6  # the rest of the data set is used


def test_yolo_class_beyond_data_yaml_is_an_error_naming_file_and_line(small_sets):
    _, _, _, yolo = small_sets
    path = os.path.join(os.path.dirname(yolo), "labels", "train", "0004.txt")
    with open(path, "a") as f:
        f.write("2 0.5 0.5 0.1 0.1\n")
    count = len(open(path).read().splitlines())
    with pytest.raises(DataError, match=rf"0004\.txt:{count}: class index 2 is not one of the 2 classes"):
        YoloDetectionSource(yolo)


def test_yolo_data_yaml_is_checked(small_sets):
    _, _, _, yolo = small_sets
    with open(yolo, "w") as f:
        f.write("train: images/train\nnames: [square, disc]\nnc: 3\n")
    with pytest.raises(DataError, match="nc is 3 but names lists 2"):
        YoloDetectionSource(yolo)
    with open(yolo, "w") as f:
        f.write("train: images/train\n")
    with pytest.raises(DataError, match="names must be a non-empty list"):
        YoloDetectionSource(yolo)
    with open(yolo, "w") as f:
        f.write("train: images/train\nnames: {0: square, 1: disc}\n")
    assert YoloDetectionSource(yolo).labels.names == ("square", "disc")
    with pytest.raises(DataError, match="no 'val' entry"):
        YoloDetectionSource(yolo, split="val")


def test_coco_boxes_are_checked_like_the_others(small_sets, tmp_path, caplog):
    annotations, images, _, _ = small_sets
    data = json.load(open(annotations))
    data["annotations"][0]["bbox"] = [50, 10, 30, 20]  # past the right edge of a 64 px image
    data["annotations"][1]["bbox"][2] = 0  # zero width
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(data))
    with caplog.at_level(logging.WARNING):
        source = CocoDetectionSource(path, images)
    assert any("1 boxes reaching outside their image clipped" in m for m in warnings_of(caplog))
    assert any("1 boxes of zero area dropped" in m for m in warnings_of(caplog))
    assert source.images[0].objects[0][1] == (50, 10, 14, 20)


def test_a_validation_share_is_seeded_and_apart(shapes_coco):
    annotations, images = shapes_coco
    source = CocoDetectionSource(annotations, images)
    train, val = source.split(0.25, seed=3)
    again = source.split(0.25, seed=3)[1]
    other = source.split(0.25, seed=4)[1]
    names = lambda s: [r.file_name for r in s.images]  # noqa: E731
    assert len(val.images) == 2 and len(train.images) == 7
    assert names(val) == names(again) and names(val) != names(other)
    assert not set(names(val)) & set(names(train))
    assert sorted(names(val) + names(train)) == names(source)
    assert train.labels == val.labels == source.labels
    with pytest.raises(ValueError, match="between 0 and 1"):
        source.split(1.0, seed=0)
