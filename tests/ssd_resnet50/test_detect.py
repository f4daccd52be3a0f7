"""`detect` as people use it: every kind of source, EXIF orientation, filters, streamed outputs,
result objects (fixture weights at a small network size, to keep it quick)."""
import io
import json

import cv2
import numpy as np
import pytest
from PIL import Image

from ssd_resnet50.cli import main
from ssd_resnet50.inference.detector import Detector
from ssd_resnet50.inference.preprocess import load_rgb
from ssd_resnet50.inference.results import detections_to_dataframe
from ssd_resnet50.inference.sources import Sources
from tests.ssd_resnet50.detect_inputs import image_server, mixed_folder, photo_paths, write_video  # noqa: F401
from tests.ssd_resnet50.test_detector import assert_same

SIZE = 256  # network input size of these tests: the checks do not need 640
THRESHOLD = "0.75"  # the stand-in weights score thousands of boxes above the CLI's default 0.3


@pytest.fixture(scope="module")
def detector(fixture_checkpoint):
    """One image a network call, so every comparison runs the same computation."""
    return Detector.from_checkpoint(fixture_checkpoint, image_size=SIZE, backend="mindspore",
                                    score_threshold=float(THRESHOLD), batch_size=1)


@pytest.fixture(scope="module")
def expected(detector, photo_paths):
    """{photo name: detections} of each shared photo read from its file."""
    found = {path.name: detector.detect(path) for path in photo_paths}
    assert all(found.values()), "the fixture weights should find something at this threshold"
    return found


def assert_same_as_entries(entries, detections, atol=0.011):
    """JSON detections (bbox at 2 decimals, score at 5) against Detection objects."""
    assert len(entries) == len(detections)
    for entry, det in zip(entries, detections):
        assert entry["category_id"] == det.category_id and entry["category_name"] == det.category_name
        np.testing.assert_allclose(entry["bbox"], det.box, rtol=0, atol=atol)
        assert abs(entry["score"] - det.score) < 1e-5


def clip(photo_paths, tmp_path, count=12):
    """A video alternating the two photos (the second resized to the first's size), and its frames
    as OpenCV reads them back."""
    first = load_rgb(photo_paths[0])
    second = cv2.resize(load_rgb(photo_paths[1]), first.shape[1::-1], interpolation=cv2.INTER_AREA)
    video = write_video(tmp_path / "clip.avi", [(first, second)[k % 2] for k in range(count)])
    return video, [item.image for item in Sources([video])]


def test_folders_globs_urls_and_stdin_give_the_detections_of_the_same_pixels(detector, expected, mixed_folder,
                                                                             image_server, photo_paths):
    first, second = (expected[p.name] for p in photo_paths)
    results = detector.detect_batch(mixed_folder)
    assert [r.source.rsplit("/", 1)[-1] for r in results] == ["000000142238.jpg", "000000439180.jpg", "broken.jpg",
                                                             "copy.png"]
    assert [r.ok for r in results] == [True, True, False, True]
    assert_same(results[0].detections, first)
    assert_same(results[1].detections, second)
    assert_same(results[3].detections, first)  # the PNG copy holds the same pixels
    assert "broken.jpg" in results[2].error and "not a readable image" in results[2].error
    globbed = detector.detect_batch(str(mixed_folder / "0*.jpg"))
    assert [r.ok for r in globbed] == [True, True]
    assert_same(globbed[1].detections, second)
    assert_same(detector.detect(f"{image_server}/photo.jpg"), first)
    [missing] = detector.detect_batch([f"{image_server}/missing"])
    assert "HTTP 404" in missing.error
    [piped] = detector.detect_batch(Sources("-", stdin=io.BytesIO(photo_paths[0].read_bytes())))
    assert piped.source == "<stdin>"
    assert_same(piped.detections, first)


def test_the_cli_streams_every_source_and_draws_videos_at_their_frame_rate(
        detector, expected, fixture_checkpoint, mixed_folder, image_server, photo_paths, tmp_path, capsys):
    video, frames = clip(photo_paths, tmp_path)
    out = tmp_path / "out"
    status = main(["detect", str(mixed_folder), f"{image_server}/photo.jpg", str(video), "--weights",
                   str(fixture_checkpoint), "--image-size", str(SIZE), "--backend", "mindspore", "--batch-size", "1",
                   "--score-threshold", THRESHOLD, "--out", str(out)])
    captured = capsys.readouterr()
    assert status == 1  # the corrupt file
    assert "broken.jpg" in captured.err and "skipped 1 files that are not images or videos (1 .txt)" in captured.err
    assert "speed per image (medians): decode+preprocess" in captured.out and "images/s over 16 images" in captured.out
    lines = [json.loads(line) for line in (out / "detections.jsonl").read_text().splitlines()]
    assert len(lines) == 3 + 1 + 12
    by_name = {line["file_name"].rsplit("/", 1)[-1]: line for line in lines[:4]}
    assert_same_as_entries(by_name["copy.png"]["detections"], expected[photo_paths[0].name])
    assert_same_as_entries(by_name["photo.jpg"]["detections"], expected[photo_paths[0].name])
    assert (by_name["000000439180.jpg"]["width"], by_name["000000439180.jpg"]["height"]) == (640, 360)
    assert sorted(p.name for p in out.glob("*.png")) == ["000000142238.png", "000000439180.png", "copy.png",
                                                        "photo.png"]
    video_lines = lines[4:]
    assert [line["frame"] for line in video_lines] == list(range(12))
    assert video_lines[3]["time"] == pytest.approx(0.5)
    for line, frame in zip(video_lines[:2], frames):
        assert_same_as_entries(line["detections"], detector.detect(frame))
    [drawn] = [p for p in out.iterdir() if p.stem == "clip"]
    capture = cv2.VideoCapture(str(drawn))
    assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(6.0)
    read = 0
    while capture.read()[0]:
        read += 1
    assert read == 12
    height, width = frames[0].shape[:2]  # as the input video holds them (its codec keeps sizes even)
    assert (capture.get(cv2.CAP_PROP_FRAME_WIDTH), capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (width, height)
    assert (video_lines[0]["width"], video_lines[0]["height"]) == (width, height)
    capture.release()
    coco = json.loads((out / "detections.json").read_text())
    assert len(coco) == sum(len(line["detections"]) for line in lines)
    assert {"image_id", "category_id", "bbox", "score", "category_name", "file_name"} <= set(coco[0])
    assert {entry["image_id"] for entry in coco} >= {142238, "clip_0"}


ORIENTATIONS = {6: Image.Transpose.ROTATE_90, 3: Image.Transpose.ROTATE_180, 8: Image.Transpose.ROTATE_270}


@pytest.mark.parametrize("orientation", sorted(ORIENTATIONS))
def test_exif_orientation_is_applied_by_default_and_kept_as_stored_without_it(detector, photo_paths, tmp_path,
                                                                              orientation):
    upright = load_rgb(photo_paths[0])
    stored = Image.fromarray(upright).transpose(ORIENTATIONS[orientation])  # what a camera would have saved
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"rotated_{orientation}.png"
    stored.save(path, exif=exif.tobytes())
    [result] = detector.detect_batch([path])
    assert result.image_hw == upright.shape[:2]
    assert_same(result.detections, detector.detect(upright), atol=0.5)
    [as_stored] = detector.detect_batch([path], exif=False)
    assert as_stored.image_hw == np.asarray(stored).shape[:2]
    assert_same(as_stored.detections, detector.detect(np.asarray(stored)), atol=0.5)


def test_evaluation_reads_pixels_as_stored(detector, photo_paths, tmp_path):
    """COCO's boxes are in the stored pixels: eval and validation never apply EXIF."""
    from ssd_resnet50.inference.evaluation import detect_images, load_ground_truth

    stored = Image.fromarray(load_rgb(photo_paths[0])).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    stored.save(tmp_path / "rotated.png", exif=exif.tobytes())
    ground_truth = load_ground_truth({"images": [{"id": 1, "file_name": "rotated.png", "width": stored.width,
                                                  "height": stored.height}],
                                      "annotations": [], "categories": [{"id": 1, "name": "person"}]})
    results, done, failed = detect_images(detector, ground_truth, str(tmp_path), [1], no_progress=True)
    assert done == [1] and not failed
    as_stored = detector.detect(np.asarray(stored))
    assert results == [det.to_coco(1) for det in as_stored] and results


def test_filters_txt_and_crops(detector, fixture_checkpoint, photo_paths, tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    for photo in photo_paths:
        (folder / photo.name).write_bytes(photo.read_bytes())
    out = tmp_path / "out"
    status = main(["detect", str(folder), "--weights", str(fixture_checkpoint), "--image-size", str(SIZE),
                   "--backend", "mindspore", "--batch-size", "1", "--out", str(out), "--classes", "person", "1",
                   "--score-threshold", "0.7",
                   "--max-detections", "3", "--save-txt", "--save-conf", "--save-crops", "--no-draw", "-q"])
    assert status == 0
    assert "000000142238" not in capsys.readouterr().out  # -q: no line an image
    assert not list(out.glob("*.png"))  # --no-draw
    unfiltered = Detector.from_checkpoint(fixture_checkpoint, image_size=SIZE, backend="mindspore",
                                          score_threshold=0.7, batch_size=1)
    lines = [json.loads(line) for line in (out / "detections.jsonl").read_text().splitlines()]
    assert len(lines) == 2
    crops = 0
    for line, photo in zip(lines, photo_paths):
        every = unfiltered.detect(photo)
        wanted = [d for d in every if d.category_name == "person"]
        assert len(wanted) > 3 and len(every) > len(wanted), "the check needs persons and other classes"
        best = sorted(wanted, key=lambda d: -d.score)[:3]
        assert_same_as_entries(line["detections"], best)
        width, height = line["width"], line["height"]
        txt = [row.split() for row in (out / "labels" / f"{photo.stem}.txt").read_text().splitlines()]
        assert len(txt) == len(best)
        for fields, det in zip(txt, best):
            label, cx, cy, w, h, score = (float(v) for v in fields)
            assert label == det.label - 1 == 0 and abs(score - det.score) < 1e-5
            box = ((cx - w / 2) * width, (cy - h / 2) * height, w * width, h * height)
            np.testing.assert_allclose(box, det.box, rtol=0, atol=1e-3)
        for k, det in enumerate(best):
            crop = Image.open(out / "crops" / "person" / f"{photo.stem}_{k}.jpg")
            assert abs(crop.size[0] - det.box[2]) <= 1 and abs(crop.size[1] - det.box[3]) <= 1
            crops += 1
    assert crops == len(list((out / "crops").rglob("*.jpg"))) > 0


def test_unknown_classes_are_named(fixture_network):
    with pytest.raises(ValueError, match=r"unknown classes \['persn'\]"):
        Detector(fixture_network, backend="mindspore", classes=["persn"])
    assert Detector(fixture_network, backend="mindspore", classes=["person", 3, "18"]).classes == {1, 3, 17}


def test_result_objects_plot_save_and_convert(detector, photo_paths, tmp_path):
    [result] = detector.detect_batch([photo_paths[0]], keep_images=True)
    picture = result.plot()
    assert picture.size == (640, 427) and picture.mode == "RGB"
    assert np.any(np.asarray(picture) != result.image)  # boxes drawn
    saved = result.save(tmp_path / "boxes.png")
    assert Image.open(saved).size == (640, 427)
    entry = json.loads(result.to_json())
    assert entry["file_name"] == str(photo_paths[0]) and (entry["width"], entry["height"]) == (640, 427)
    assert_same_as_entries(entry["detections"], result.detections)
    coco = result.to_coco(142238)
    assert len(coco) == len(result.detections) and coco[0] == result.detections[0].to_coco(142238)
    [unkept] = detector.detect_batch([photo_paths[0]])
    with pytest.raises(ValueError, match="keep_images=True"):
        unkept.plot()


def test_dataframe_of_results(detector, photo_paths):
    pytest.importorskip("pandas", reason="pandas is optional; detections_to_dataframe needs it")
    results = detector.detect_batch(photo_paths)
    table = detections_to_dataframe(results)
    assert len(table) == sum(len(r.detections) for r in results)
    assert list(table.columns[:4]) == ["file_name", "frame", "category_id", "category_name"]


def test_dataframe_without_pandas_says_how_to_get_it(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pandas(name, *args, **kwargs):
        if name == "pandas":
            raise ImportError("No module named 'pandas'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pandas)
    with pytest.raises(ImportError, match="pip install pandas"):
        detections_to_dataframe([])


@pytest.mark.slow
def test_detections_jsonl_keeps_every_finished_image_when_the_run_is_killed(fixture_checkpoint, photo_paths,
                                                                           subprocess_env, tmp_path):
    import subprocess
    import sys
    import time

    folder = tmp_path / "photos"
    folder.mkdir()
    for k in range(40):
        (folder / f"{k:03d}.jpg").write_bytes(photo_paths[k % 2].read_bytes())
    out = tmp_path / "out"
    jsonl = out / "detections.jsonl"
    command = [sys.executable, "-m", "ssd_resnet50", "detect", str(folder), "--weights", str(fixture_checkpoint),
               "--image-size", "128", "--backend", "mindspore", "--batch-size", "1", "--score-threshold", "0.75",
               "--no-draw", "-q", "--out", str(out)]
    process = subprocess.Popen(command, env=subprocess_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and process.poll() is None:
            if jsonl.exists() and len(jsonl.read_bytes().splitlines()) >= 4:
                break
            time.sleep(0.05)
        assert process.poll() is None, f"the run ended before it could be killed: {process.stderr.read()[-2000:]}"
        process.kill()
    finally:
        process.kill()
        process.wait(timeout=60)
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]  # every line whole
    assert 4 <= len(lines) < 40
    assert [line["file_name"] for line in lines] == [str(folder / f"{k:03d}.jpg") for k in range(len(lines))]
    assert all((line["width"], line["height"]) in ((640, 427), (640, 360)) for line in lines)
    assert not (out / "detections.json").exists()  # written only at the end, from the jsonl


@pytest.mark.slow
def test_memory_stays_flat_over_two_thousand_images(fixture_checkpoint, tmp_path):
    import os

    from ssd_resnet50.inference.outputs import DetectionWriter

    if not os.path.exists("/proc/self/status"):
        pytest.skip("reads the resident set size from /proc/self/status (Linux)")

    def rss_mib():
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024

    folder = tmp_path / "many"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for k in range(2000):
        cv2.imwrite(str(folder / f"{k:04d}.png"), rng.integers(0, 255, (40, 56, 3), dtype=np.uint8))
    detector = Detector.from_checkpoint(fixture_checkpoint, image_size=64, backend="mindspore",
                                        score_threshold=0.8, batch_size=8)  # the smallest size: a quick test
    measured = {}
    with DetectionWriter(tmp_path / "out", draw=False, save_txt=True) as writer:
        for count, result in enumerate(detector.iter_detect(folder, keep_images=False), 1):
            assert result.ok
            writer.write(result)
            if count in (200, 2000):
                measured[count] = rss_mib()
    assert len((tmp_path / "out" / "detections.jsonl").read_text().splitlines()) == 2000
    growth = measured[2000] - measured[200]
    assert growth < 40, f"RSS grew {growth:.1f} MiB from image 200 to 2000 ({measured})"


def test_cli_options_reach_the_detector(monkeypatch, tmp_path):
    from ssd_resnet50.cli import detect as command

    seen = {}

    def capture(args, **options):
        seen.update(options)
        raise ValueError("stop here")  # main prints it as an error: no network is built

    monkeypatch.setattr(command, "detector_from_args", capture)
    status = main(["detect", str(tmp_path), "--no-exif", "--classes", "person", "3", "--max-detections", "7",
                   "--batch-size", "2", "--weights", "w.ckpt"])
    assert status == 1
    assert seen == {"score_threshold": 0.3, "batch_size": 2, "exif": False, "classes": ["person", "3"],
                    "max_detections": 7}
    main(["detect", str(tmp_path), "--weights", "w.ckpt"])
    assert seen["exif"] is True and seen["classes"] is None and seen["max_detections"] is None


def test_serve_turns_uploads_upright_unless_told_not_to(monkeypatch):
    from ssd_resnet50.cli import serve as command

    seen = []

    def capture(args, **options):
        seen.append(options["exif"])
        raise ValueError("stop here")  # no network is built

    monkeypatch.setattr(command, "detector_from_args", capture)
    assert main(["serve", "--weights", "w.ckpt", "--no-exif"]) == 1
    assert main(["serve", "--weights", "w.ckpt"]) == 1
    assert seen == [False, True]
