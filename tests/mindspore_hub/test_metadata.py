"""The metadata parser: structure, source-text values, field lines, and the published card."""

from pathlib import Path

import pytest

from mindspore_hub.errors import UnsafeNameError
from mindspore_hub.metadata import MetadataError, normalize_version, parse_file, parse_text
from tests.shared_files import shared_path

REPO = Path(__file__).resolve().parents[2]
PROJECT_MD = REPO / "mshub_res" / "assets" / "mindspore" / "ascend" / "1.3" / "ssdresnet50_v1.3_coco2017.md"
PROJECT_UID = "mindspore/ascend/1.3/ssdresnet50_v1.3_coco2017"
SHA = "0" * 8 + "ab" * 28

SMALL = f"""\
# tiny

---

model-name: tiny
mindspore-version: 1.10
model-version: v1.3
update-time: 2021-09-27
fine-tunable: True
repo-link: <https://example.org/tiny>
asset:
-
    file-format: CKPT
    asset-link: <https://example.org/files/tiny%20net.ckpt>
    asset-sha256: {SHA}

---

## Body
---
--- a line that starts with three dashes
"""


def line_of(text: str, start: str) -> int:
    """1-based number of the first line of `text` starting with `start`."""
    return next(number for number, line in enumerate(text.splitlines(), 1) if line.startswith(start))


def seed_card() -> str:
    """The published model card in ../shared (a skip, or in CI a failure, when absent)."""
    return shared_path("seed", "000_fc888b323ca769e6.txt").read_text(encoding="utf-8")


def test_project_card_has_the_seed_cards_asset():
    seed = parse_text(seed_card())
    ours = parse_file(PROJECT_MD)
    assert len(ours.assets) == len(seed.assets) == 1
    assert ours.assets[0].asset_link == seed.assets[0].asset_link
    assert ours.assets[0].asset_sha256 == seed.assets[0].asset_sha256
    assert ours.assets[0].asset_link.startswith("https://download.mindspore.cn/")


def test_project_card_has_every_field_of_the_seed_card():
    seed = parse_text(seed_card())
    ours = parse_file(PROJECT_MD)
    assert ours.title == seed.title == "ssd_resnet50"
    assert dict(ours.fields) == dict(seed.fields)


def test_project_card_and_its_chinese_variant_share_uid_and_fields():
    info = parse_file(PROJECT_MD)
    chinese = parse_file(PROJECT_MD.with_name(PROJECT_MD.stem + "_cn.md"))
    assert (info.uid, info.language) == (PROJECT_UID, "en")
    assert (chinese.uid, chinese.language) == (PROJECT_UID, "cn")
    assert dict(chinese.fields) == dict(info.fields)


def test_project_card_usage_shows_load_and_detect():
    body = PROJECT_MD.read_text(encoding="utf-8").split("\n---\n", 2)[2]
    assert "## Introduction" in body and "## Usage" in body and "## Citation" in body
    assert f'mshub.load("{PROJECT_UID}")' in body
    assert "detector = Detector(net)" in body
    assert 'detector.detect("photo.jpg")' in body


def test_typed_values_of_the_project_card():
    info = parse_file(PROJECT_MD)
    assert info.model_name == "ssd_resnet50"
    assert info.fine_tunable is True
    assert info.mindspore_version == "v1.3" and info.normalized_mindspore_version == "1.3"
    assert info.update_time == "2021-09-27"
    assert info.repo_link == "https://gitee.com/mindspore/mindspore/tree/r1.3/model_zoo/research/cv/ssd_resnet50"
    assert info.input_shape == [227, 227, 3]
    assert info.assets[0].file_format == "ckpt"
    assert info.assets[0].file_name == "ssdresnet50_ascend_v130_coco2017_research_cv_bs_32_acc31.ckpt"
    assert (info.publisher, info.backend, info.version) == ("mindspore", "ascend", "1.3")


def test_field_lines_are_the_lines_of_the_fields():
    text = PROJECT_MD.read_text(encoding="utf-8")
    lines = text.splitlines()
    info = parse_text(text)
    assert len(info.field_lines) == 19
    for field, number in info.field_lines.items():
        assert lines[number - 1].startswith(f"{field}:"), field
    asset = info.assets[0]
    for field, number in asset.field_lines.items():
        assert lines[number - 1].strip().startswith(f"{field}:"), field
    assert asset.line == line_of(text, "    file-format:")
    assert info.front_matter_line == line_of(text, "---") == 3


def test_versions_dates_and_hashes_keep_their_text():
    info = parse_text(SMALL)
    assert info.mindspore_version == "1.10"
    assert info.fields["mindspore-version"] == "1.10"
    assert info.model_version == "v1.3" and info.normalized_model_version == "1.3"
    assert info.update_time == "2021-09-27"
    assert info.assets[0].asset_sha256 == SHA  # leading zeros: YAML alone would read an int


def test_links_lose_their_angle_brackets_and_formats_are_lowercase():
    asset = parse_text(SMALL).assets[0]
    assert parse_text(SMALL).repo_link == "https://example.org/tiny"
    assert asset.asset_link == "https://example.org/files/tiny%20net.ckpt"
    assert asset.file_name == "tiny net.ckpt"


@pytest.mark.parametrize("link", ["https://example.org/a/../../b.ckpt", "https://example.org/a/%2e%2e/b.ckpt",
                                  "https://example.org/files/", "files/b.ckpt"])
def test_asset_file_name_is_the_loaders_and_refuses_unsafe_links(link):
    asset = parse_text(SMALL.replace("https://example.org/files/tiny%20net.ckpt", link)).assets[0]
    assert asset.asset_link == link
    with pytest.raises(UnsafeNameError):
        asset.file_name
    assert asset.file_format == "ckpt"
    assert asset.fields["file-format"] == "CKPT"


def test_body_lines_with_dashes_do_not_end_or_break_the_front_matter():
    info = parse_text(SMALL)
    assert info.title == "tiny"
    assert set(info.fields) == {"model-name", "mindspore-version", "model-version", "update-time",
                                "fine-tunable", "repo-link", "asset"}


def test_windows_line_endings_give_the_same_result():
    assert parse_text(SMALL.replace("\n", "\r\n")) == parse_text(SMALL)
    assert parse_text(SMALL.replace("\n", "\r\n")).field_lines == parse_text(SMALL).field_lines


@pytest.mark.parametrize("path, layout, uid", [
    ("hub/mshub_res/assets/mindspore/ascend/1.3/ssdresnet50_v1.3_coco2017.md",
     ("mindspore", "ascend", "1.3"), PROJECT_UID),
    ("x/assets/mindspore/ascend/1.3/ssdresnet50_v1.3_coco2017_cn.md",
     ("mindspore", "ascend", "1.3"), PROJECT_UID),
    ("assets/mindspore/1.10/dgcn_cora.md", ("mindspore", None, "1.10"), "mindspore/1.10/dgcn_cora"),
    ("somewhere/else/model.md", (None, None, None), None),
    ("assets/mindspore/model.md", (None, None, None), None),
])
def test_publisher_backend_version_and_uid_come_from_the_path(path, layout, uid):
    info = parse_text(SMALL, path)
    assert (info.publisher, info.backend, info.version) == layout
    assert info.uid == uid


def test_without_a_path_there_is_no_uid():
    info = parse_text(SMALL)
    assert (info.path, info.uid, info.language) == (None, None, "en")


def test_missing_optional_fields_are_none():
    info = parse_text("# m\n---\nmodel-name: m\n---\n")
    assert info.fine_tunable is None and info.repo_link is None and info.assets == ()
    assert info.mindspore_version == "" and info.model_version == ""


@pytest.mark.parametrize("text, line, field, words", [
    ("# m\n\nno front matter\n", 1, None, "no front matter"),
    ("# m\n---\nmodel-name: m\n", 2, None, "not closed"),
    ("# m\n---\n\n---\nbody\n", 2, None, "empty"),
    ("# m\n---\n- a\n- b\n---\n", 3, None, "mapping"),
    ("# m\n---\nmodel-name: m\nsummary: a: b\nauthor: x\n---\n", 4, None, "invalid YAML"),
    ("# m\n---\nmodel-name: m\n  bad: indent\n---\n", 4, None, "invalid YAML"),
    ("# m\n---\nasset: x.ckpt\n---\n", 3, "asset", "list"),
    ("# m\n---\nasset:\n- just a string\n---\n", 4, "asset", "mapping"),
    ("# m\n---\nmodel-name: m\nupdate-time: 2023-13-45\n---\n", 4, "update-time", "month must be in 1..12"),
])
def test_structural_problems_raise_with_line_and_field(text, line, field, words):
    with pytest.raises(MetadataError) as caught:
        parse_text(text, "m.md")
    error = caught.value
    assert isinstance(error, ValueError)
    assert (error.path, error.line, error.field) == ("m.md", line, field)
    assert words in str(error)
    assert str(error).startswith(f"m.md:{line}: ")


def test_duplicate_fields_are_recorded_and_the_last_value_wins():
    info = parse_text("# m\n---\nauthor: a\nmodel-name: m\nauthor: b\nasset:\n-\n    asset-link: <https://h/a.ckpt>\n"
                      "    asset-link: <https://h/b.ckpt>\n---\n")
    assert info.author == "b" and info.field_lines["author"] == 5
    assert info.assets[0].asset_link == "https://h/b.ckpt"
    assert info.duplicates == (("author", 3, 5), ("asset-link", 8, 9))


def test_evaluation_dash_reads_as_text_as_upstream_reads_it():
    info = parse_text("# m\n---\nmodel-name: m\nevaluation: -\naccuracy: 1\n---\n")
    assert info.fields["evaluation"] == "-" and info.field_lines["accuracy"] == 5
    assert parse_text("# m\n---\nasset:\n-\n    file-format: ckpt\n---\n").assets[0].file_format == "ckpt"


def test_parse_file_reads_utf8_and_records_the_path(tmp_path):
    path = tmp_path / "assets" / "mindspore" / "1.9" / "m_cn.md"
    path.parent.mkdir(parents=True)
    path.write_text("# 模型\n---\nsummary: 中文\n---\n", encoding="utf-8")
    info = parse_file(path)
    assert (info.title, info.summary, info.path, info.language) == ("模型", "中文", str(path), "cn")
    assert info.uid == "mindspore/1.9/m"


@pytest.mark.parametrize("given, expected", [("v1.3", "1.3"), ("1.10", "1.10"), (" V2.0 ", "2.0")])
def test_normalize_version(given, expected):
    assert normalize_version(given) == expected
