"""COCO evaluation: the scoring core on results lists, the image filter, `ssd-resnet50 eval`."""
import json
import re

import numpy as np
import pytest

from ssd_resnet50.model.categories import COCO as COCO_LABELS
from ssd_resnet50.cli import main
from ssd_resnet50.evaluate import METRIC_NAMES, coco_metrics, label_set_for, load_ground_truth, select_images
from tests.shared_files import shared_path

from .synthetic import make_shapes_dataset


@pytest.fixture(scope="module")
def sample():
    """../shared's two COCO val2017 photos: (annotation path, image folder)."""
    folder = shared_path("data", "coco_val2017_sample")
    return folder / "instances.json", folder


def ground_truth_as_results(ground_truth, score=1.0):
    return [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": list(a["bbox"]), "score": score}
            for a in ground_truth.dataset["annotations"] if not a.get("iscrowd", 0)]


def parse_table(text) -> list:
    """The 12 numbers of pycocotools' printed summary, in order."""
    values = re.findall(r"^ Average (?:Precision|Recall) +\((?:AP|AR)\) @\[.*\] = (-?\d\.\d{3})$", text, re.M)
    return [float(v) for v in values]


def test_ground_truth_fed_back_scores_ap_1(sample):
    ground_truth = load_ground_truth(sample[0])
    results = ground_truth_as_results(ground_truth)
    assert len(results) == 40  # 43 boxes, 3 of them crowd regions
    metrics = coco_metrics(ground_truth, results)
    assert metrics["AP"] == metrics["AP50"] == metrics["AP75"] == metrics["AR100"] == 1.0
    assert metrics.num_images == 2
    assert parse_table(metrics.table) == pytest.approx(list(metrics.stats), abs=5e-4)


def test_worse_detections_score_lower(sample):
    ground_truth = load_ground_truth(sample[0])
    results = ground_truth_as_results(ground_truth)
    half = coco_metrics(ground_truth, results[::2])  # every other object missed
    assert 0 < half["AP"] < 0.6 and 0 < half["AR100"] < 0.6  # recall is averaged over categories
    shifted = [dict(r, bbox=[r["bbox"][0] + 0.3 * r["bbox"][2], *r["bbox"][1:]]) for r in results]
    moved = coco_metrics(ground_truth, shifted)  # IoU 0.54 with their objects
    assert moved["AP50"] == 1.0 and moved["AP75"] == 0.0 and moved["AP"] < 0.2
    wrong_class = [dict(r, category_id=2) for r in results]  # everything called "bicycle"
    assert coco_metrics(ground_truth, wrong_class)["AP"] == 0.0


def test_no_detections_and_foreign_images(sample):
    ground_truth = load_ground_truth(sample[0])
    empty = coco_metrics(ground_truth, [])
    assert empty["AP"] == 0.0 and empty["AR100"] == 0.0
    with pytest.raises(ValueError, match="images the annotations do not have"):
        coco_metrics(ground_truth, [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 1}])
    with pytest.raises(ValueError, match="no images"):
        coco_metrics(ground_truth, [], image_ids=[])


def test_scoring_can_be_restricted_to_some_images(sample):
    ground_truth = load_ground_truth(sample[0])
    results = [r for r in ground_truth_as_results(ground_truth) if r["image_id"] == 142238]
    assert coco_metrics(ground_truth, results, image_ids=[142238])["AP"] == 1.0
    assert coco_metrics(ground_truth, results)["AP"] < 1.0  # the other photo's objects were missed


def test_skip_crowd_images_is_the_original_filter(tmp_path):
    path, _ = make_shapes_dataset(str(tmp_path), num_images=5, image_size=64, extras=True)
    ground_truth = load_ground_truth(path)
    assert select_images(ground_truth) == [1, 2, 3, 4, 5]
    # Image 1 holds a crowd region and image 5 no annotation at all: the original left both out.
    assert select_images(ground_truth, skip_crowd_images=True) == [2, 3, 4]


def test_cli_scores_a_results_file(sample, tmp_path, capsys):
    annotations, _ = sample
    results = tmp_path / "gt_as_results.json"
    results.write_text(json.dumps(ground_truth_as_results(load_ground_truth(annotations))))
    assert main(["eval", "--annotations", str(annotations), "--detections", str(results)]) == 0
    printed = capsys.readouterr().out
    stats = parse_table(printed)
    assert len(stats) == 12 and stats[:3] == [1.0, 1.0, 1.0]
    assert "AP 1.000  AP50 1.000  AP75 1.000" in printed and "(2 images)" in printed


@pytest.mark.parametrize("content,message", [
    ('{"image_id": 1}', "a COCO results file is a JSON list, found dict"),
    ('[{"image_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5}]', "entry 0 lacks category_id"),
    ('[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1], "score": 0.5}]', "entry 0 has no bbox of 4 numbers"),
    ("[{]", "not JSON"),
])
def test_cli_names_what_is_wrong_with_a_results_file(sample, tmp_path, capsys, content, message):
    results = tmp_path / "bad.json"
    results.write_text(content)
    assert main(["eval", "--annotations", str(sample[0]), "--detections", str(results)]) == 1
    assert message in capsys.readouterr().err


def test_cli_skip_crowd_images_on_the_sample_leaves_nothing(sample, capsys):
    annotations, images = sample  # both photos hold a crowd annotation
    status = main(["eval", "--annotations", str(annotations), "--images", str(images), "--skip-crowd-images",
                   "--backend", "mindspore"])
    assert status == 1
    assert "no images left to evaluate: 2 in the file, all with a crowd annotation" in capsys.readouterr().err


def test_cli_needs_images_or_detections(sample, capsys):
    assert main(["eval", "--annotations", str(sample[0])]) == 1
    assert "--images" in capsys.readouterr().err


def test_labels_map_to_the_annotation_files_ids(tmp_path):
    path, _ = make_shapes_dataset(str(tmp_path), num_images=2, image_size=64)
    ground_truth = load_ground_truth(path)  # categories: square (id 7), disc (id 3)
    assert label_set_for(ground_truth) is COCO_LABELS
    assert label_set_for(ground_truth, num_classes=3).ids == (7, 3)
    assert label_set_for(ground_truth, labels=["disc"]).ids == (3,)
    with pytest.raises(ValueError, match="--labels"):
        label_set_for(ground_truth, num_classes=5)


@pytest.mark.slow
def test_fixture_model_evaluates_end_to_end(sample, fixture_checkpoint, tmp_path, capsys):
    annotations, images = sample
    folder = tmp_path / "images"
    folder.mkdir()
    for image in load_ground_truth(annotations).dataset["images"]:
        (folder / image["file_name"]).symlink_to(images / image["file_name"])
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    data = json.loads(annotations.read_text())
    data["images"].append({"id": 7, "file_name": "broken.jpg", "height": 10, "width": 10})
    data["images"].append({"id": 8, "file_name": "missing.jpg", "height": 10, "width": 10})
    with_bad = tmp_path / "instances.json"
    with_bad.write_text(json.dumps(data))
    out = tmp_path / "out" / "results.json"

    status = main(["eval", "--annotations", str(with_bad), "--images", str(folder), "--weights",
                   str(fixture_checkpoint), "--backend", "mindspore", "--out", str(out), "--no-progress"])
    printed = capsys.readouterr()
    assert status == 0, printed.err
    assert "image 7 skipped" in printed.err and "image 8 skipped" in printed.err
    results = json.loads(out.read_text())
    assert results and {r["image_id"] for r in results} == {142238, 439180}
    assert all(set(r) == {"image_id", "category_id", "bbox", "score"} for r in results)
    assert {r["category_id"] for r in results} <= set(COCO_LABELS.ids)
    stats = parse_table(printed.out)
    assert len(stats) == len(METRIC_NAMES) and all(-1.0 <= v <= 1.0 for v in stats)
    assert "(2 images)" in printed.out and "2 unreadable images skipped" in printed.out
    # The written file scores the same through the results-file path.
    assert main(["eval", "--annotations", str(annotations), "--detections", str(out)]) == 0
    assert parse_table(capsys.readouterr().out) == stats
    assert np.isfinite(stats).all()
