"""`ssd-resnet50 detect`: a picture and a COCO JSON for real photos; bad files reported by name."""
import json
import os
import shutil
import subprocess
import sys

from PIL import Image

from ssd_resnet50.cli import main
from tests.shared_files import shared_path


def test_detect_writes_png_and_json(fixture_checkpoint, tmp_path, capsys):
    photo = shared_path("data", "coco_val2017_sample", "000000439180.jpg")
    out = tmp_path / "out"
    status = main(["detect", str(photo), "--weights", str(fixture_checkpoint), "--out", str(out),
                   "--score-threshold", "0.6", "--backend", "mindspore"])
    assert status == 0
    picture = Image.open(out / "000000439180.png")
    assert picture.size == (640, 360)
    results = json.loads((out / "detections.json").read_text())
    assert results and all(r["image_id"] == 439180 and r["score"] > 0.6 for r in results)
    assert {"category_id", "bbox", "category_name"} <= set(results[0])
    assert "000000439180.jpg" in capsys.readouterr().out


def test_corrupt_image_is_named_and_others_still_processed(fixture_checkpoint, tmp_path, capsys):
    photo = shared_path("data", "coco_val2017_sample", "000000142238.jpg")
    corrupt = tmp_path / "broken.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    out = tmp_path / "out"
    status = main(["detect", str(corrupt), str(photo), "--weights", str(fixture_checkpoint),
                   "--out", str(out), "--score-threshold", "0.6", "--backend", "mindspore"])
    assert status != 0
    captured = capsys.readouterr()
    assert "broken.jpg" in captured.err and "not a readable image" in captured.err
    assert (out / "000000142238.png").exists()
    assert not (out / "broken.png").exists()


def test_missing_weights_file_is_a_clear_error(tmp_path, capsys):
    status = main(["detect", "x.jpg", "--weights", str(tmp_path / "nope.ckpt"), "--backend", "mindspore"])
    assert status == 1
    assert "nope.ckpt" in capsys.readouterr().err


def test_console_script_is_installed():
    script = shutil.which("ssd-resnet50", path=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    assert script, "the ssd-resnet50 console script is not installed (pip install .)"
    result = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "detect" in result.stdout


def test_photos_of_the_same_name_get_their_own_pictures(fixture_checkpoint, tmp_path):
    photo = shared_path("data", "coco_val2017_sample", "000000142238.jpg")
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        shutil.copy(photo, tmp_path / folder / "photo.jpg")
    out = tmp_path / "out"
    status = main(["detect", str(tmp_path / "a" / "photo.jpg"), str(tmp_path / "b" / "photo.jpg"),
                   "--weights", str(fixture_checkpoint), "--out", str(out), "--score-threshold", "0.7",
                   "--backend", "mindspore"])
    assert status == 0
    assert sorted(p.name for p in out.glob("*.png")) == ["photo.png", "photo_2.png"]
    sources = {r["file_name"] for r in json.loads((out / "detections.json").read_text())}
    assert sources == {str(tmp_path / "a" / "photo.jpg"), str(tmp_path / "b" / "photo.jpg")}


def test_batch_size_must_be_positive(capsys):
    import pytest

    with pytest.raises(SystemExit) as stop:
        main(["detect", "x.jpg", "--batch-size", "0"])
    assert stop.value.code == 2 and "above 0" in capsys.readouterr().err


def test_a_hub_download_without_name_resolution_fails_in_moments_and_suggests_weights(tmp_path, monkeypatch,
                                                                                        capsys):
    import importlib
    import socket

    for key in [key for key in os.environ if key.startswith("MSHUB_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("MSHUB_DIR", str(tmp_path / "hub"))
    lookups = []

    def no_dns(host, *args, **kwargs):  # a new user's machine without network
        lookups.append(host)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    monkeypatch.setattr(importlib.import_module("mindspore_hub.download"), "BACKOFF", 0.01)
    status = main(["detect", str(tmp_path / "photo.jpg")])  # the published weights, through the hub
    err = capsys.readouterr().err
    assert status == 1 and len(lookups) == 2
    assert "cannot resolve host download.mindspore.cn" in err and "--weights CKPT" in err
    assert len(err.splitlines()) == 2 and "Traceback" not in err


def test_backend_choices_come_from_the_one_list_and_reach_the_detector():
    from ssd_resnet50.backends import BACKENDS, PRECISIONS
    from ssd_resnet50.cli import build_parser
    from ssd_resnet50.cli.arguments import backend_options

    parser = build_parser()
    for command in (["detect", "x.jpg"], ["eval", "--annotations", "a.json"]):
        args = parser.parse_args(command + ["--backend", "openvino", "--precision", "bf16", "--int8-model", "m"])
        assert backend_options(args) == {"backend": "openvino", "precision": "bf16", "int8_model": "m"}
        actions = {a.dest: a for a in parser._subparsers._group_actions[0].choices[command[0]]._actions}
        assert tuple(actions["backend"].choices) == BACKENDS and tuple(actions["precision"].choices) == PRECISIONS
    assert backend_options(parser.parse_args(["detect", "x.jpg"])) == {"backend": "auto", "precision": None,
                                                                       "int8_model": None}
