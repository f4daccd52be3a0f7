"""Model names and the names taken from metadata."""

from __future__ import annotations

import pytest

from mindspore_hub import names
from mindspore_hub.errors import HubError, UnsafeNameError


def test_four_part_uids_use_the_release_branch_of_their_era():
    name = names.parse("mindspore/ascend/1.3/ssdresnet50_v1.3_coco2017")
    assert (name.uid, name.parts, name.branch) == (
        "mindspore/ascend/1.3/ssdresnet50_v1.3_coco2017", ("mindspore", "ascend", "1.3", "ssdresnet50_v1.3_coco2017"),
        "r1.3")
    assert names.parse("/mindspore/gpu/1.10/x/").branch == "r1.10"


def test_three_part_uids_use_master():
    name = names.parse("mindspore/1.6/googlenet_cifar10")
    assert (name.uid, name.branch) == ("mindspore/1.6/googlenet_cifar10", "master")


def test_urls_and_blob_pages():
    blob = "https://gitee.com/mindspore/hub/blob/master/mshub_res/assets/mindspore/1.6/googlenet_cifar10.md"
    assert names.parse(blob).url == blob.replace("/blob/", "/raw/")
    github = "https://github.com/mindspore-ai/hub/blob/r1.3/mshub_res/assets/mindspore/ascend/1.3/x.md"
    assert names.parse(github).url == \
        "https://raw.githubusercontent.com/mindspore-ai/hub/r1.3/mshub_res/assets/mindspore/ascend/1.3/x.md"
    assert names.parse("http://127.0.0.1:8000/x.md").url == "http://127.0.0.1:8000/x.md"


def test_local_paths(tmp_path):
    md = tmp_path / "m.md"
    md.write_text("# m\n")
    assert names.parse(str(md)).path == md.resolve()
    assert names.parse(md, source="local").path == md.resolve()
    with pytest.raises(FileNotFoundError):
        names.parse(str(tmp_path / "missing.md"))


@pytest.mark.parametrize("bad", ["ssd", "a/b", "a/b/c/d/e", "a//c", "a/../c", "a/b/c d"])
def test_malformed_names_are_refused(bad):
    with pytest.raises(ValueError, match="not a model name"):
        names.parse(bad)


def test_source_and_type_are_checked():
    with pytest.raises(ValueError, match="source"):
        names.parse("a/b/c", source="bitbucket")
    with pytest.raises(TypeError):
        names.parse(3)


@pytest.mark.parametrize("bad", ["", ".", "..", "a/b", "a\\b", "/abs", "C:evil", "x\x00y"])
def test_unsafe_components(bad):
    with pytest.raises(UnsafeNameError):
        names.safe_component(bad, "name")


def test_url_file_names():
    assert names.url_file_name("https://h/a/b%20c.ckpt?x=1", "link") == "b c.ckpt"
    for bad in ("https://h/a/../x.ckpt", "https://h/a/%2e%2e/x.ckpt", "https://h/a/..%2Fx.ckpt", "https://h/",
                "/etc/x.ckpt", "ftp://h/x.ckpt"):
        with pytest.raises(UnsafeNameError):
            names.url_file_name(bad, "link")


def test_sha256_must_be_64_hex():
    assert names.is_sha256("ab" * 32) and not names.is_sha256("AB" * 32) and not names.is_sha256("ab" * 31)
    assert names.check_sha256("AB" * 32) == "ab" * 32
    for bad in ("abc12345", "g" * 64, "", "a" * 65):
        with pytest.raises(HubError, match="64 hex"):
            names.check_sha256(bad)


def test_a_uid_stays_a_hub_name_and_local_files_are_asked_for_explicitly(tmp_path, monkeypatch):
    planted = tmp_path / "mindspore" / "ascend" / "1.3" / "ssd"
    planted.parent.mkdir(parents=True)
    planted.write_text("# planted\n")
    monkeypatch.chdir(tmp_path)
    assert names.parse("mindspore/ascend/1.3/ssd").uid == "mindspore/ascend/1.3/ssd"
    assert names.parse("./mindspore/ascend/1.3/ssd").path == planted.resolve()
    assert names.parse(str(planted)).path == planted  # absolute, and a file
    assert names.parse("/mindspore/ascend/1.3/ssd/").uid == "mindspore/ascend/1.3/ssd"  # absolute, no such file
    with pytest.raises(FileNotFoundError):
        names.parse("./mindspore/ascend/1.3/absent")


@pytest.mark.parametrize("name, words", [
    ("n" * 246 + ".ckpt", "bytes long"),
    ("model.tmp", "ends like a file the cache keeps"),
    ("model.verified", "ends like a file the cache keeps"),
    ("model.ckpt.part", "ends like a file the cache keeps"),
    ("a\nb.ckpt", "control character"),
    ("a\x1b[2Jb.ckpt", "control character"),
    ("n" * 256, "longer than 255 bytes"),
])
def test_asset_names_the_cache_cannot_keep_are_refused(name, words):
    with pytest.raises(UnsafeNameError, match=words):
        names.check_asset_name(name)
    assert names.check_asset_name("n" * 240 + ".ckpt")  # the longest the cache keeps: 245 bytes


def test_printable_escapes_what_could_forge_or_hide_a_line():
    assert names.printable("a\nb\r\tc\x1b[2J\x7f\x9b ü") == "a\\nb\\r\\tc\\x1b[2J\\x7f\\x9b ü"
    assert names.printable_lines("one\ntwo\x1b[0m") == "one\ntwo\\x1b[0m"
