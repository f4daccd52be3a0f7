"""The mshub command, run in-process."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mindspore_hub import cli
from mindspore_hub import download as mshub_download
from tests.mindspore_hub.models import random_bytes

SSD_UID = "mindspore/ascend/1.3/ssdresnet50_v1.3_coco2017"


def run(capsys, *argv):
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_list_info_download_verify_and_cache(publish, server, capsys):
    model = publish(entry=False, body=random_bytes(5000))
    status, out, _ = run(capsys, "list", "--local")
    assert status == 0 and model.uid in out.split() and SSD_UID in out.split()

    status, out, _ = run(capsys, "info", model.uid)
    assert status == 0 and "model-name: tiny_a" in out and model.sha256 in out
    status, out, _ = run(capsys, "info", "--json", SSD_UID)
    assert status == 0 and json.loads(out)["fields"]["model-name"] == "ssd_resnet50"

    status, out, _ = run(capsys, "download", model.uid)
    path = Path(out.strip())
    assert status == 0 and path.read_bytes() == model.body

    assert run(capsys, "verify", model.uid)[0] == 0
    assert run(capsys, "verify", str(path))[0] == 0
    status, out, _ = run(capsys, "cache", "ls")
    assert status == 0 and "verified" in out and str(path) in out

    stat = path.stat()
    path.write_bytes(b"!" + model.body[1:])
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    status, _, err = run(capsys, "verify", model.uid)
    assert status == 1 and "mismatch" in err and not path.exists()

    run(capsys, "download", model.uid)
    status, out, _ = run(capsys, "cache", "rm", model.uid)
    assert status == 0 and out.startswith("removed") and not path.exists()


def test_cache_rm_all_and_usage(publish, server, capsys):
    model = publish(entry=False, body=random_bytes(100))
    run(capsys, "download", model.uid)
    assert run(capsys, "cache", "rm", "--all")[0] == 0
    assert run(capsys, "cache", "ls")[1] == ""
    assert run(capsys, "cache", "rm")[0] == 2


def test_errors_are_one_line_and_exit_1(capsys, monkeypatch):
    monkeypatch.setenv("MSHUB_OFFLINE", "1")
    status, out, err = run(capsys, "download", "tests/cpu/9.9/absent")
    assert status == 1 and err.startswith("mshub: error: offline")
    with pytest.raises(SystemExit) as usage:
        cli.main(["frobnicate"])
    assert usage.value.code == 2


def test_a_checksum_error_keeps_its_detail_lines(publish, server, capsys):
    model = publish(entry=False, body=random_bytes(100), expected_sha256="0" * 64)
    status, _, err = run(capsys, "download", model.uid)
    lines = err.splitlines()
    assert status == 1 and lines[0] == f"mshub: error: sha256 mismatch for {model.url}"
    assert lines[1].split() == ["expected:", "0" * 64]


def test_hub_dir_option(publish, server, capsys, tmp_path):
    model = publish(entry=False, body=random_bytes(100))
    status, out, _ = run(capsys, "--hub-dir", str(tmp_path / "other"), "download", model.uid)
    assert status == 0 and out.startswith(str(tmp_path / "other"))


def test_validate_is_wired_to_the_validator(capsys):
    status, out, _ = run(capsys, "validate", str(Path(__file__).resolve().parents[2] / "mshub_res"))
    assert status == 0 and "0 error(s)" in out


def test_cache_rm_of_a_linked_folder_removes_only_the_link(hub_dir, tmp_path, capsys):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.ckpt").write_bytes(b"not the cache's")
    sha = "ab" * 32
    (hub_dir / "assets").mkdir(parents=True)
    (hub_dir / "assets" / sha).symlink_to(elsewhere)
    status, out, _ = run(capsys, "cache", "ls")
    assert status == 0 and out.split()[0] == "link"
    status, out, _ = run(capsys, "cache", "rm", sha)
    assert status == 0 and out == f"removed the link {sha} (its target was left alone)\n"
    assert not os.path.lexists(hub_dir / "assets" / sha) and (elsewhere / "keep.ckpt").exists()
    assert run(capsys, "cache", "rm", sha)[1] == f"not cached {sha}\n"


def test_a_dangling_link_does_not_break_cache_ls(publish, server, hub_dir, capsys):
    model = publish(entry=False, body=random_bytes(100))
    path = Path(mshub_download(model.uid))
    (path.parent / "gone.ckpt").symlink_to(hub_dir / "no-such-file")
    status, out, _ = run(capsys, "cache", "ls")
    states = {line.split()[-1]: line.split()[0] for line in out.splitlines()}
    assert status == 0 and states == {str(path): "verified", str(path.parent / "gone.ckpt"): "link"}


def test_cache_rm_all_removes_every_asset_folder_whatever_it_holds(publish, server, hub_dir, capsys):
    model = publish(entry=False, body=random_bytes(100))
    run(capsys, "download", model.uid)
    for sha, name in (("cd" * 32, "old-model.tmp"), ("ef" * 32, "x.ckpt.verified")):  # left by older versions
        (hub_dir / "assets" / sha).mkdir()
        (hub_dir / "assets" / sha / name).write_bytes(b"x")
    status, out, _ = run(capsys, "cache", "rm", "--all")
    assert status == 0 and len(out.splitlines()) == 3
    assert list((hub_dir / "assets").iterdir()) == []


def test_names_and_values_from_metadata_and_the_cache_are_printed_escaped(publish, server, hub_dir, tmp_path,
                                                                         capsys):
    model = publish(entry=False, body=random_bytes(100))
    model.md.write_text(model.md.read_text().replace(
        "summary: a test model", 'summary: "one\\nforged: line\\e[2J"'))  # YAML escapes: a newline, ESC
    status, out, _ = run(capsys, "info", model.uid)
    assert status == 0 and "summary: one\\nforged: line\\x1b[2J" in out
    assert "\x1b" not in out and not any(line.startswith("forged") for line in out.splitlines())

    path = Path(mshub_download(model.uid))
    (path.parent / "evil\nverified            1 forged.ckpt\x1b[2J").write_bytes(b"x")
    status, out, _ = run(capsys, "cache", "ls")
    assert status == 0 and len(out.splitlines()) == 2 and "\x1b" not in out and "evil\\nverified" in out

    planted = tmp_path / "res" / "assets" / "tests" / "cpu" / "1.0" / "evil\x1b[2J.md"
    planted.write_text(model.md.read_text())
    status, out, _ = run(capsys, "list", "--local")
    assert status == 0 and "\x1b" not in out and model.uid in out.split()

    status, _, err = run(capsys, "info", "./no\x1b[2Jsuch.md")
    assert status == 1 and "\x1b" not in err and "\\x1b[2J" in err


def test_list_says_what_it_could_not_list_when_the_remote_index_is_unreachable(publish, capsys):
    model = publish()  # the index repository is a closed port on 127.0.0.1 (conftest)
    status, out, err = run(capsys, "list")
    assert status == 1 and model.uid in out.split() and SSD_UID in out.split()
    assert "local hub roots and the cache only; not listed: the remote index" in err
    assert "127.0.0.1:9/no-index-repo.git" in err and "--local" in err
