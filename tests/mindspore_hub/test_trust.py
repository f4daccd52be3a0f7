"""Trust records: structured, atomic, migrated from the old text file, and only clean URLs."""

from __future__ import annotations

import json
import logging

import pytest

from mindspore_hub import cli, trust
from mindspore_hub.errors import DownloadError, UntrustedRepoError

REPO = "https://gitee.com/mindspore/models"


def test_remembered_repositories_are_json_records(hub_dir):
    trust.remember(REPO)
    trust.remember(REPO)  # once only
    document = json.loads(trust.trusted_file().read_text())
    assert [record["url"] for record in document["repositories"]] == [REPO]
    assert trust.trusted_repos() == {REPO}
    trust.require(REPO, "model x", None)
    assert trust.forget(REPO) and not trust.forget(REPO)
    with pytest.raises(UntrustedRepoError):
        trust.require(REPO, "model x", None)


def test_the_old_text_file_is_migrated_once_and_unclean_lines_dropped(hub_dir, caplog):
    hub_dir.mkdir(parents=True)
    legacy = hub_dir / "trusted_repos.txt"
    legacy.write_text(f"# mine\n{REPO}  # the models\nhttps://a.example/r x\nfile:///srv/r\n{REPO}\n")
    with caplog.at_level(logging.WARNING, logger="mindspore_hub"):
        assert trust.trusted_repos() == {REPO}
    assert "dropped 2 line(s)" in caplog.text
    assert not legacy.exists() and (hub_dir / "trusted_repos.txt.migrated").exists()
    assert json.loads(trust.trusted_file().read_text())["repositories"][0]["url"] == REPO


def test_records_edited_by_hand_into_something_unclean_trust_nothing(hub_dir, caplog):
    hub_dir.mkdir(parents=True)
    trust.trusted_file().write_text(json.dumps({"repositories": [
        {"url": f"{REPO}\nhttps://evil.example/r"}, {"url": 3}, "https://x.example/r", {"url": REPO}]}))
    with caplog.at_level(logging.WARNING, logger="mindspore_hub"):
        assert trust.trusted_repos() == {REPO}
    assert caplog.text.count("malformed record") == 3
    trust.trusted_file().write_text("{not json")
    assert trust.trusted_repos() == set()


def test_a_link_where_the_trust_file_goes_is_replaced_not_written_through(hub_dir, tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("precious")
    hub_dir.mkdir(parents=True)
    trust.trusted_file().symlink_to(outside)
    trust.remember(REPO)
    assert outside.read_text() == "precious" and not trust.trusted_file().is_symlink()
    assert trust.trusted_repos() == {REPO}


def test_mshub_trust_lists_adds_and_removes(hub_dir, capsys):
    assert cli.main(["trust", REPO]) == 0
    assert cli.main(["trust"]) == 0
    assert capsys.readouterr().out.splitlines() == [f"trusted: {REPO}", REPO]
    assert cli.main(["trust", "--remove", REPO]) == 0 and trust.trusted_repos() == set()
    assert cli.main(["trust", "https://a.example/r\nhttps://b.example/r"]) == 1
    assert "control character" in capsys.readouterr().err
    with pytest.raises(DownloadError):
        trust.remember("file:///srv/r")
