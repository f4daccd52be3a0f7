"""DetectionWriter with hostile names: nothing written outside the output folder, nothing overwritten."""
import json
import os

import numpy as np

from ssd_resnet50.inference.outputs import DetectionWriter
from ssd_resnet50.inference.results import Detection, ImageResult


def result(source, names=("person",)):
    image = np.full((40, 60, 3), 128, np.uint8)
    detections = [Detection(box=(5.0, 5.0, 20.0, 10.0), score=0.9, label=1, category_id=1, category_name=name)
                  for name in names]
    return ImageResult(source=source, image_hw=image.shape[:2], detections=detections, image=image)


def files_under(folder):
    return sorted(os.path.relpath(os.path.join(root, name), folder)
                  for root, _, names in os.walk(folder) for name in names)


def test_class_and_url_names_cannot_leave_the_output_folder(tmp_path):
    out = tmp_path / "deep" / "out"
    hostile = ("../../escaped", "a/b", "nul\0x", "..", "/etc/passwd")
    with DetectionWriter(out, save_txt=True, save_crops=True) as writer:
        writer.write(result("http://example.com/..%2F..%2Fup.jpg?x=/../y", hostile))
        writer.write(result("http://example.com/" + "é" * 200 + ".jpg"))  # 400 bytes: over a file name's 255
    assert files_under(tmp_path) == [os.path.join("deep", "out", f) for f in files_under(out)]
    crops = [f for f in files_under(out) if f.startswith("crops")]
    assert len(crops) == len(hostile) + 1
    assert all(len(part.encode()) <= 255 for f in files_under(out) for part in f.split(os.sep))
    lines = (out / "detections.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 and len(json.loads((out / "detections.json").read_text())) == len(hostile) + 1


def test_same_named_photos_of_two_folders_keep_their_own_files(tmp_path):
    out = tmp_path / "out"
    with DetectionWriter(out, save_txt=True) as writer:
        first = writer.write(result("a/photo.jpg"))
        second = writer.write(result("b/photo.jpg"))
    assert (os.path.basename(first), os.path.basename(second)) == ("photo.png", "photo_2.png")
    assert sorted(os.listdir(out / "labels")) == ["photo.txt", "photo_2.txt"]
    ids = [json.loads(line)["image_id"] for line in (out / "detections.jsonl").read_text().splitlines()]
    assert ids == ["photo", "photo_2"]


def test_a_photo_named_like_a_videos_frame_keeps_its_own_labels(tmp_path):
    out = tmp_path / "out"
    frames = [result("clip.avi") for _ in range(4)]
    for k, frame in enumerate(frames):
        frame.frame, frame.fps = k, 6.0
    with DetectionWriter(out, draw=False, save_txt=True, save_crops=True) as writer:
        writer.write(result("photos/clip_3.jpg"))
        for frame in frames:
            writer.write(frame)
        writer.write(result("photos/clip_1.jpg"))
    ids = [json.loads(line)["image_id"] for line in (out / "detections.jsonl").read_text().splitlines()]
    assert len(set(ids)) == len(ids) == 6
    assert len(os.listdir(out / "labels")) == 6 and len(os.listdir(out / "crops" / "person")) == 6
