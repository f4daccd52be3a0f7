"""The nine attacks of the loader's adversarial review (issue 10), each reproduced as it was reported.

Servers run on 127.0.0.1, HOME-like folders and the cache are temporary, hostile metadata and
repositories are built here; each test shows the promise that the attack broke now holding.
"""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import mindspore_hub as mshub
from mindspore_hub import cli, settings, trust, validate
from mindspore_hub.errors import DownloadError, HubError, UnsafePathError, UntrustedRepoError
from mindspore_hub.metadata import MetadataError, parse_file
from tests.mindspore_hub.hubserver import HubServer
from tests.mindspore_hub.models import (checkpoint_bytes, commit_repo, random_bytes, rot, set_repo_link, sha256,
                                        tiny_params, write_md)

MiB = 1 << 20
SSD_UID = "mindspore/ascend/1.3/ssdresnet50_v1.3_coco2017"

PLANTED_ENTRY = '''\
import pathlib
pathlib.Path({sentinel!r}).write_text("the planted code ran")


def create_network(name, *args, **kwargs):
    from mindspore import nn
    return nn.Dense(4, 3)
'''


def run(capsys, *argv):
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def _links_in(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_symlink()]


# 1. Code without trust via the current directory ---------------------------------------------------

def test_1_a_uid_is_never_taken_from_files_in_the_current_directory(publish, server, tmp_path, monkeypatch,
                                                                     capsys):
    model = publish()
    planted = tmp_path / "planted"
    evil = checkpoint_bytes(tiny_params(seed=1))
    evil_url = server.add("/planted.ckpt", evil)
    ran = tmp_path / "planted-code-ran"
    for uid in (model.uid, SSD_UID):  # a file at the uid's path, and a hub_conf.py beside it
        write_md(planted / uid, uid.rsplit("/", 1)[1], evil_url, sha256(evil))
        (planted / uid).parent.joinpath("hub_conf.py").write_text(PLANTED_ENTRY.format(sentinel=str(ran)))
    monkeypatch.chdir(planted)

    network = mshub.load(model.uid)
    np.testing.assert_array_equal(network.dense.weight.asnumpy(), model.params["dense.weight"])
    status, out, _ = run(capsys, "download", model.uid)  # what `ssd-resnet50` calls
    assert status == 0 and Path(out.strip()).read_bytes() == model.body
    assert mshub.info(SSD_UID).path != str(planted / SSD_UID)  # the published card, not the planted one
    assert not ran.exists()
    assert server.gets("/planted.ckpt") == []

    # a local file is used when it is asked for explicitly: ./path, a .md, an absolute path
    assert mshub.info(f"./{model.uid}").path == str((planted / model.uid).resolve())
    assert mshub.info(str(planted / model.uid)).path == str(planted / model.uid)


# 2. Writes outside the cache --------------------------------------------------------------------

def test_2_a_link_committed_in_the_index_repository_is_not_written_through(server, tmp_path, monkeypatch,
                                                                              hub_dir, capsys):
    bashrc = tmp_path / "home" / ".bashrc"
    bashrc.parent.mkdir()
    bashrc.write_text("# my shell settings\n")
    index = tmp_path / "git" / "index"
    write_md(index / "mshub_res" / "assets" / "mindspore" / "1.9" / "remote_net.md", "remote_net",
             "https://example.invalid/remote.ckpt", "0" * 64)
    (index / "mshub_res" / "assets" / ".mshub_source.json").symlink_to(bashrc)
    (index / "mshub_res" / "assets" / "escape").symlink_to(bashrc.parent)
    commit_repo(index, "master")
    monkeypatch.setenv("MSHUB_INDEX_REPO", server.add_git(index))

    status, out, _ = run(capsys, "list")
    assert status == 0 and "mindspore/1.9/remote_net" in out.split()
    assert bashrc.read_text() == "# my shell settings\n" and os.listdir(bashrc.parent) == [".bashrc"]
    assert _links_in(hub_dir) == []  # git checked the links out as plain files


def test_2_links_planted_where_the_cache_keeps_its_files_are_removed_not_followed(publish, server, hub_dir,
                                                                                    tmp_path):
    model = publish(entry=False, body=random_bytes(MiB))
    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"precious")
    copy = tmp_path / "a-copy.ckpt"
    copy.write_bytes(model.body)  # even a link to the right bytes is not kept as the cache entry
    folder = hub_dir / "assets" / model.sha256
    folder.mkdir(parents=True)
    (folder / "tiny_a.ckpt").symlink_to(copy)
    for suffix in (".part", ".part.json", ".verified"):
        (folder / f"tiny_a.ckpt{suffix}").symlink_to(outside)
    (hub_dir / "locks").mkdir()
    (hub_dir / "locks" / f"{model.sha256}.lock").symlink_to(outside)

    path = Path(mshub.download(model.uid))
    assert outside.read_bytes() == b"precious" and copy.read_bytes() == model.body
    assert not path.is_symlink() and path.read_bytes() == model.body
    assert _links_in(hub_dir) == []


def test_2_a_cache_folder_that_is_a_link_is_refused(publish, server, hub_dir, tmp_path):
    model = publish(entry=False, body=random_bytes(1000))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (hub_dir / "assets").mkdir(parents=True)
    (hub_dir / "assets" / model.sha256).symlink_to(elsewhere)
    with pytest.raises(UnsafePathError, match="symbolic link.*MSHUB_DIR"):
        mshub.download(model.uid)
    assert list(elsewhere.iterdir()) == [] and server.gets(model.path) == []


# 3. Unbounded, busy retry loop ------------------------------------------------------------------

def test_3_a_server_ignoring_range_and_dropping_part_way_gets_bounded_backed_off_attempts(publish, server, waits):
    model = publish(entry=False, body=random_bytes(3 * MiB), ignore_range=True, drop_every=2 * MiB)
    with pytest.raises(DownloadError, match="without progress"):
        mshub.download(model.uid)
    # the first attempt's 2 MiB are progress; every later one loses them again and backs off
    assert len(server.gets(model.path)) == settings.retries() + 2
    assert waits == [0.0, 0.01, 0.02]


def test_3_a_content_length_longer_than_the_body_is_bounded_and_resumed_where_range_works(publish, server, waits):
    lying = publish(entry=False, body=random_bytes(MiB), ignore_range=True, claim_extra=1000)
    with pytest.raises(DownloadError, match="without progress"):
        mshub.download(lying.uid)
    assert len(server.gets(lying.path)) == settings.retries() + 2

    resumable = publish("tiny_b", "2.0", entry=False, body=random_bytes(MiB, seed=2), claim_extra=1000)
    assert Path(mshub.download(resumable.uid)).read_bytes() == resumable.body  # the 416 says it is complete
    assert len(server.gets(resumable.path)) == 2


def test_3_a_gzip_coding_on_an_incompressible_file_is_decoded_and_not_looped(publish, server, waits):
    body = random_bytes(MiB)
    model = publish(entry=False, body=body, gzip=True)
    assert Path(mshub.download(model.uid)).read_bytes() == body
    [request] = server.gets(model.path)
    assert request["Accept-Encoding"] == "identity"

    dropping = publish("tiny_b", "2.0", entry=False, body=random_bytes(MiB, seed=3), gzip=True,
                       drop_every=MiB // 2)
    with pytest.raises(DownloadError, match="without progress"):
        mshub.download(dropping.uid)
    assert len(server.gets(dropping.path)) == settings.retries() + 1
    assert all("Range" not in headers for headers in server.gets(dropping.path))  # a coded body is never resumed


# 4. YAML alias bombs, deep nesting, control characters, undecodable files -------------------------

def _bomb(field: str) -> str:
    """A kilobyte of nested aliases: 9**9 strings once expanded."""
    lines = ['x-l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"x-l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 9)]
    return "\n".join(lines) + f"\n{field}: [{', '.join(['*l8'] * 9)}]\n"


@pytest.mark.parametrize("field", ["summary", "x-unknown"])
def test_4_an_alias_bomb_is_refused_in_bounded_memory(field, publish, capsys):
    model = publish()
    text = model.md.read_text()
    model.md.write_text(text.replace("summary: a test model\n", "summary: a test model\n" * (field != "summary")
                                     + _bomb(field)))
    assert len(_bomb(field)) < 1200
    tracemalloc.start()
    try:
        with pytest.raises(MetadataError, match="alias"):
            mshub.load(model.uid)
        status, _, err = run(capsys, "info", model.uid)
        vstatus, vout, _ = run(capsys, "validate", str(model.md))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert status == 1 and "alias" in err and len(err.splitlines()) == 1
    assert vstatus == 1 and "alias" in vout
    assert peak < 20 * MiB


def test_4_validate_reports_each_unreadable_file_and_goes_on(tmp_path, capsys):
    folder = tmp_path / "assets" / "tests" / "cpu" / "2.8"
    good = write_md(folder / "good.md", "good", "https://example.invalid/good.ckpt", "1" * 64)
    text = good.read_text()
    summary = "summary: a test model\n"
    (folder / "deep.md").write_text(text.replace(summary, "summary: " + "[" * 5000 + "\n"))
    (folder / "nul.md").write_text(text.replace(summary, "summary: a\x00b\n"))
    (folder / "bomb.md").write_text(text.replace(summary, summary + _bomb("x-unknown")))
    (folder / "latin1.md").write_bytes(text.replace(summary, "summary: café\n").encode("latin-1"))

    status, out, err = run(capsys, "validate", str(tmp_path))
    lines = out.splitlines()
    assert status == 1 and err == "" and "Traceback" not in out
    assert lines[-1] == "5 file(s) checked: 4 error(s), 0 warning(s)"
    by_file = {Path(line.split(":", 1)[0]).name: line for line in lines[:-1]}
    assert set(by_file) == {"deep.md", "nul.md", "bomb.md", "latin1.md"}
    assert "nested deeper" in by_file["deep.md"] and "'\\x00'" in by_file["nul.md"]
    assert "alias" in by_file["bomb.md"] and "not UTF-8" in by_file["latin1.md"]
    for name in ("deep.md", "latin1.md"):  # the loader says the same, naming the file
        with pytest.raises(MetadataError, match=name):
            parse_file(folder / name)


# 5. Trust injection by newline ------------------------------------------------------------------

def test_5_a_newline_in_a_repo_link_cannot_add_a_second_trusted_repository(remote_model, repo_url, publish, server,
                                                                            hub_dir):
    injected = f"http://127.0.0.1:{server.port}/git/evil"
    text = remote_model.md.read_text()
    start = text.index("repo-link:")
    end = text.index("\n", start)
    link = f"{repo_url}/tree/main/models/tiny_r\\n{injected}"  # a YAML escape: the value holds a newline
    remote_model.md.write_text(text[:start] + f'repo-link: "{link}"' + text[end:])
    assert "\n" in mshub.info(remote_model.uid).repo_link

    with pytest.raises(DownloadError, match="control character"):
        mshub.load(remote_model.uid, trust_repo=True)
    assert trust.trusted_repos() == set() and not trust.trusted_file().exists()
    assert [path for _, path, _ in server.requests if path.startswith("/git/")] == []

    second = publish("tiny_s", "4.0", entry=False)
    set_repo_link(second, f"{injected}/tree/main/models/tiny_r")
    with pytest.raises(UntrustedRepoError):
        mshub.load(second.uid)
    with pytest.raises(DownloadError, match="control character"):
        trust.remember(f"{repo_url}\n{injected}")


# 6. TLS bypass through a URL-parser difference ---------------------------------------------------

@pytest.mark.parametrize("link", [
    "http://example.invalid\\@127.0.0.1:{port}{path}",   # loopback to urllib.parse, example.invalid to urllib3
    "https://example.invalid\\@127.0.0.1:{port}{path}",
    "http://127.0.0.1:{port}@example.invalid{path}",     # user info
    "http://127.0.0.1:{port}\t{path}",
])
def test_6_a_url_read_differently_by_two_parsers_is_refused_before_any_connection(link, publish, server, hub_dir):
    model = publish(entry=False, body=b"x")
    link = link.format(port=server.port, path=model.path)
    model.md.write_text(model.md.read_text().replace(f"<{model.url}>", f"'{link}'"))  # YAML keeps it verbatim
    assert mshub.info(model.uid).assets[0].asset_link == link
    with pytest.raises(DownloadError, match="backslash|user information|control character"):
        mshub.download(model.uid)
    with pytest.raises(DownloadError, match="backslash|user information|control character"):
        mshub.load(model.uid)
    assert server.requests == []


# 7. git redirects, MSHUB_INDEX_REPO, --check-links -------------------------------------------------

def test_7_git_does_not_follow_a_redirect_to_another_host(remote_model, model_repo, hub_dir):
    other = HubServer().start()  # another host, serving a copy of the repository
    redirector = HubServer().start()
    try:
        other.add_git(model_repo)
        base = redirector.redirect_git(other.url("/git"))
        set_repo_link(remote_model, f"{base}/models-repo/tree/main/models/tiny_r")
        with pytest.raises(HubError, match="git .*failed"):
            mshub.load(remote_model.uid, trust_repo=True)
        assert redirector.requests and other.requests == []
        assert not list((hub_dir / "code").rglob("hub_conf.py"))
    finally:
        other.stop()
        redirector.stop()


@pytest.mark.parametrize("repo", ["file:///srv/hub", "http://example.org/hub.git", "ssh://git@example.org/hub.git",
                                  "https://user@gitee.com/mindspore/hub.git", "https://gitee.com/a\nb"])
def test_7_the_index_repository_is_held_to_the_url_policy(repo, monkeypatch, hub_dir, capsys):
    monkeypatch.setenv("MSHUB_INDEX_REPO", repo)
    with pytest.raises(DownloadError, match="MSHUB_INDEX_REPO"):
        mshub.hub_list()
    status, _, err = run(capsys, "list")
    assert status == 1 and "MSHUB_INDEX_REPO" in err
    assert not (hub_dir / "index").exists()


def test_7_check_links_does_not_follow_a_redirect_the_policy_refuses(server, tmp_path):
    link = server.add("/files/x.ckpt", b"", before=[(302, {"Location": "http://example.org/x.ckpt"})])
    md = write_md(tmp_path / "x.md", "x", link, "0" * 64)
    problems = [problem for problem in validate.link_problems(parse_file(md), str(md))
                if problem.field == "asset-link"]
    assert len(problems) == 1 and "redirect target" in problems[0].message
    assert "MSHUB_ALLOW_HTTP" in problems[0].message  # refused by the policy, never requested


# 8. A warm load trusts corrupted bytes ----------------------------------------------------------

def test_8_a_warm_load_never_loads_corrupted_bytes(publish, server):
    import mindspore as ms

    model = publish()
    mshub.load(model.uid)
    path = Path(mshub.download(model.uid))
    weight = model.params["dense.weight"]
    at = model.body.index(weight.tobytes()) + 3  # the high byte of the first float
    flipped = bytearray(model.body)
    assert flipped[at] != 0x7E
    flipped[at] = 0x7E  # one byte changed: the float becomes about 1e37
    stat = path.stat()
    path.write_bytes(bytes(flipped))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # the review's tampering: mtime restored
    corrupt = ms.load_checkpoint(str(path))["dense.weight"].asnumpy()
    assert abs(corrupt[0, 0]) > 1e30  # what loading these bytes would give

    loaded = mshub.load(model.uid).dense.weight.asnumpy()
    np.testing.assert_array_equal(loaded, weight)
    assert len(server.gets(model.path)) == 2

    rot(path, model.sha256, bytes(flipped))  # corrupted below the file system: the marker still matches
    np.testing.assert_array_equal(mshub.load(model.uid).dense.weight.asnumpy(), weight)
    np.testing.assert_array_equal(mshub.load_weights(model.uid)["dense.weight"].asnumpy(), weight)
    assert len(server.gets(model.path)) == 3
    assert path.read_bytes() == model.body


# 9. force_reload destroys the good copy first ---------------------------------------------------

def test_9_force_reload_keeps_the_verified_copy_until_its_replacement_is_verified(publish, server, capsys,
                                                                                  monkeypatch):
    model = publish(entry=False, body=random_bytes(MiB))
    path = Path(mshub.download(model.uid))
    marker = path.with_name(path.name + ".verified")

    server.routes[model.path].body = random_bytes(MiB, seed=9)  # the server now sends other bytes
    status, _, err = run(capsys, "download", "--force-reload", model.uid)
    assert status == 1 and "sha256 mismatch" in err and f"the verified copy already in the cache at {path}" in err

    server.stop()  # and now it is down
    status, _, err = run(capsys, "download", "--force-reload", model.uid)
    assert status == 1 and "was kept" in err
    assert path.read_bytes() == model.body and marker.exists()
    monkeypatch.setenv("MSHUB_OFFLINE", "1")
    assert mshub.download(model.uid) == str(path)

