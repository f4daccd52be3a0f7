"""Upstream's names and behaviours: import paths, CellInfo, argument checks before the network,
hub_list raising, and 4-part uids routed to the index branch that holds them."""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
from pathlib import Path

import pytest

import mindspore_hub as mshub
from mindspore_hub import cache, index, listing, manage, names
from mindspore_hub.errors import DownloadError, IndexUnavailableError, OfflineError
from tests.mindspore_hub.models import checkpoint_bytes, commit_branches, sha256, tiny_params, write_md

SSD_UID = "mindspore/ascend/1.3/ssdresnet50_v1.3_coco2017"


def test_upstream_import_paths_and_names():
    from mindspore_hub.info import CellInfo, info
    from mindspore_hub.list import hub_list
    from mindspore_hub.load import load, load_weights

    assert (load, load_weights, hub_list, info) == (mshub.load, mshub.load_weights, mshub.hub_list, mshub.info)
    assert callable(mshub.load) and callable(mshub.info)  # still our functions, not the modules
    assert CellInfo.__module__ == "mindspore_hub.info"
    assert mshub.__version__ == importlib.metadata.version("ssd-resnet50-hub")


def test_manage_cache_dir_reads_and_moves_the_cache(tmp_path, hub_dir):
    assert manage.CACHE_DIR == manage.get_hub_dir() == str(hub_dir)
    manage.set_hub_dir(tmp_path / "a")
    assert manage.CACHE_DIR == str(tmp_path / "a")
    manage.CACHE_DIR = str(tmp_path / "b")  # upstream code assigns the variable
    assert manage.get_hub_dir() == str(tmp_path / "b")
    manage.set_hub_dir(None)
    assert manage.get_hub_dir() == str(hub_dir)


def test_cell_info_has_upstream_attributes_on_our_model_info():
    from mindspore_hub.info import CellInfo

    cell = CellInfo(mshub.info(SSD_UID).path)
    assert (cell.name, cell.type, cell.dataset, cell.fine_tunable) == ("ssd_resnet50", "cv", "coco2017", True)
    assert cell.repo_link.startswith("https://gitee.com/mindspore/")
    asset = cell.asset[cell.asset_id]
    assert asset["file-format"] == "ckpt" and len(asset["asset-sha256"]) == 64
    assert asset["asset-link"].startswith("https://download.mindspore.cn/")
    assert cell.model_info.uid == SSD_UID


def test_cell_info_refuses_a_broken_card_with_a_value_error(tmp_path):
    from mindspore_hub.info import CellInfo
    from mindspore_hub._utils.check import ValidMarkdown

    card = write_md(tmp_path / "assets" / "tests" / "cpu" / "1.0" / "bad.md", "bad", "https://h.example/a.ckpt",
                    "abc12345")
    with pytest.raises(ValueError, match=r"bad.md:\d+: asset-sha256: must be exactly 64"):
        CellInfo(card)
    with pytest.raises(ValueError, match="asset-sha256"):
        ValidMarkdown(card).check_markdown_file()


@pytest.mark.parametrize("call, error, words", [
    (lambda: mshub.load("https://www.baidu.com"), ValueError, "not a model name"),
    (lambda: mshub.load("https://gitee.com/mindspore/hub/raw/master/mshub_res/assets/mindspore"), ValueError,
     "not a model name"),
    (lambda: mshub.load("test/test/test"), ValueError, "version like 1.3"),
    (lambda: mshub.load(1), TypeError, "non-empty string"),
    (lambda: mshub.load(SSD_UID, pretrained="True"), TypeError, "pretrained must be True or False"),
    (lambda: mshub.load(SSD_UID, force_reload=1.0), TypeError, "force_reload must be True or False"),
    (lambda: mshub.load(SSD_UID, trust_repo="yes"), TypeError, "trust_repo"),
    (lambda: mshub.info(SSD_UID, force_reload=1), TypeError, "force_reload"),
    (lambda: mshub.hub_list(force_reload="no"), TypeError, "force_reload"),
    (lambda: mshub.load_weights(SSD_UID, force_reload=0), TypeError, "force_reload"),
])
def test_arguments_and_names_are_checked_before_any_network_access(call, error, words, no_network):
    with pytest.raises(error, match=words):
        call()
    assert no_network == []


def test_a_hub_page_url_names_its_uid():
    assert names.parse("https://hub.mindspore.com/mindspore/ascend/1.0/googlenet_v1_cifar10").uid == \
        "mindspore/ascend/1.0/googlenet_v1_cifar10"


def test_hub_list_raises_when_the_remote_index_is_unreachable_unless_local(publish, monkeypatch, no_network):
    model = publish()  # MSHUB_INDEX_REPO is unreachable here
    with pytest.raises(IndexUnavailableError, match="could not list the remote hub index") as caught:
        mshub.hub_list()
    assert isinstance(caught.value, ConnectionError)
    assert model.uid in mshub.hub_list(local_only=True)
    monkeypatch.setenv("MSHUB_OFFLINE", "1")
    assert model.uid in mshub.hub_list()  # offline asks for local listing


def _index(tmp_path, server, branches: dict[str, list[str]]) -> str:
    """A hub index repository served over git, with `branches` {branch: uids}; returns its URL."""
    def cards(uids):
        return lambda root: [write_md(root / "mshub_res" / "assets" / f"{uid}.md", uid.split("/")[-1],
                                      "https://h.example/a.ckpt", "1" * 64) for uid in uids]

    root = commit_branches(tmp_path / "git" / "hub", {branch: cards(uids) for branch, uids in branches.items()})
    return server.add_git(root)


def test_four_part_uids_go_to_a_branch_that_has_them_learned_once(tmp_path, server, monkeypatch):
    uid = "tests/cpu/0.7/old_net"  # there is no r0.7 branch, as on the real hub
    monkeypatch.setenv("MSHUB_INDEX_REPO", _index(tmp_path, server, {"master": ["tests/1.9/new_net"],
                                                                        "r1.1": [uid], "r1.3": [uid]}))
    monkeypatch.setenv("MSHUB_INDEX_URL", server.url("/{branch}/{uid}.md"))
    text = write_md(tmp_path / "scratch.md", "old_net", "https://h.example/a.ckpt", "1" * 64).read_bytes()
    server.add(f"/r1.3/{uid}.md", text)
    server.add("/r1.3/tests/cpu/1.3/era_net.md", text)
    assert mshub.info("tests/cpu/1.3/era_net").model_name == "old_net"
    assert not any(path.startswith("/git/") for _, path, _ in server.requests)  # found on its era's branch: no git
    assert mshub.info(uid).model_name == "old_net"  # r0.7 answered 404; the newest release branch holding it
    git_requests = len([r for r in server.requests if r[1].startswith("/git/")])
    assert git_requests > 0
    assert mshub.info("tests/cpu/0.7/old_net", force_reload=True).model_name == "old_net"
    assert len([r for r in server.requests if r[1].startswith("/git/")]) == git_requests  # the listing is cached
    assert "tests/1.9/new_net" in mshub.hub_list() and uid not in mshub.hub_list()
    assert uid in mshub.hub_list("1.3") and uid in mshub.hub_list("r1.1")

    monkeypatch.setenv("MSHUB_OFFLINE", "1")  # offline: the cached listing still routes
    assert listing.branch_for(names.parse("tests/cpu/0.7/old_net")) == "r1.3"
    assert listing.branch_for(names.parse("tests/cpu/0.7/absent")) == "r0.7"


def test_the_branch_listing_is_written_only_inside_the_cache_never_through_a_link(tmp_path, server, monkeypatch):
    url = _index(tmp_path, server, {"master": ["tests/1.9/new_net"]})
    monkeypatch.setenv("MSHUB_INDEX_REPO", url)
    cached = listing._cache_file(listing.index_repo())
    cached.parent.mkdir(parents=True)
    outside = tmp_path / "bashrc"
    outside.write_text("kept")
    cached.symlink_to(outside)  # a planted listing link: neither read nor written through
    assert listing.branches() == {"master": ["tests/1.9/new_net"]}
    assert outside.read_text() == "kept" and not cached.is_symlink()

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for item in cached.parent.iterdir():
        item.unlink()
    cached.parent.rmdir()
    cached.parent.symlink_to(elsewhere)  # the listing's folder a link: refused, nothing written there
    with pytest.raises(IndexUnavailableError, match="symbolic link"):
        listing.branches(force_reload=True)
    assert list(elsewhere.iterdir()) == []


def test_a_learned_branch_name_cannot_climb_out_of_the_index_url(monkeypatch):
    """A branch name comes from the index repository: ``%2e%2e`` is a valid git ref that a server reads as ``..``."""
    monkeypatch.setenv("MSHUB_INDEX_URL", "https://h.example/hub/raw/{branch}/mshub_res/assets/{uid}.md")
    url = index.remote_url(names.parse("tests/cpu/0.7/x"), branch="%2e%2e/%2e%2e/other")
    assert url == "https://h.example/hub/raw/%252e%252e/%252e%252e/other/mshub_res/assets/tests/cpu/0.7/x.md"
    assert index.remote_url(names.parse("tests/cpu/0.7/x"), branch="r1.3").endswith("/raw/r1.3/mshub_res/assets/"
                                                                                     "tests/cpu/0.7/x.md")


def test_force_reload_learns_the_listing_again_for_a_uid_published_after_it(tmp_path, server, monkeypatch):
    uid = "tests/cpu/0.7/later_net"
    monkeypatch.setenv("MSHUB_INDEX_REPO", _index(tmp_path, server, {"master": ["tests/1.9/new_net"], "r1.3": [uid]}))
    monkeypatch.setenv("MSHUB_INDEX_URL", server.url("/{branch}/{uid}.md"))
    server.add(f"/r1.3/{uid}.md", write_md(tmp_path / "scratch.md", "later_net", "https://h.example/a.ckpt",
                                           "1" * 64).read_bytes())
    cache.write_atomically(listing._cache_file(listing.index_repo()), json.dumps({"master": [], "r1.3": []}))
    with pytest.raises(DownloadError, match="HTTP 404"):  # the listing learned earlier does not have it
        mshub.info(uid)
    assert mshub.info(uid, force_reload=True).model_name == "later_net"
    assert listing.branches(local_only=True)["r1.3"] == [uid]


def test_without_a_listing_the_era_branch_is_used(server, monkeypatch, tmp_path):
    monkeypatch.setenv("MSHUB_OFFLINE", "1")
    assert listing.branch_for(names.parse("tests/cpu/1.0/x")) == "r1.0"
    with pytest.raises(OfflineError):
        mshub.info("tests/cpu/1.0/x")


def test_a_card_with_a_duplicate_key_is_read_with_a_warning_and_the_last_value(publish, caplog):
    model = publish()
    text = model.md.read_text()
    model.md.write_text(text.replace("author: tests\n", "author: first\nauthor: tests\nevaluation: -\n"))
    with caplog.at_level(logging.WARNING, logger="mindspore_hub"):
        meta = mshub.info(model.uid)
    assert meta.author == "tests" and meta.fields["evaluation"] == "-"
    assert "repeats the field of line" in caplog.text and "author" in caplog.text


def test_a_model_name_with_a_space_is_a_uid_and_is_fetched_percent_encoded(server, monkeypatch, tmp_path):
    monkeypatch.setenv("MSHUB_INDEX_URL", server.url("/{branch}/{uid}.md"))
    text = write_md(tmp_path / "scratch.md", "spaced", "https://h.example/a.ckpt", "1" * 64).read_bytes()
    server.add("/master/tests/1.0/with%20space.md", text)
    assert names.parse("tests/1.0/with space").uid == "tests/1.0/with space"
    assert mshub.info("tests/1.0/with space").model_name == "spaced"
    for bad in ("tests/1.0/ leading", "te sts/1.0/x", "tests/1.0/a\tb"):
        with pytest.raises(ValueError, match="not a model name"):
            names.parse(bad)


def test_mshub_info_shows_the_checkpoint_it_will_fetch(capsys, monkeypatch):
    from mindspore_hub import cli

    assert cli.main(["info", SSD_UID]) == 0
    out = capsys.readouterr().out
    assert ("will fetch: https://download.mindspore.cn/model_zoo/r1.3/temp/ssdresnet50_ascend_v130_coco2017_research_cv"
            "_bs_32_acc31/ssdresnet50_ascend_v130_coco2017_research_cv_bs_32_acc31.ckpt sha256=f4208754") in out
    monkeypatch.setenv("MSHUB_MIRRORS", "https://download.mindspore.cn=https://mirror.example/ms")
    assert cli.main(["info", "--json", SSD_UID]) == 0
    assert json.loads(capsys.readouterr().out)["will_fetch"]["url"].startswith("https://mirror.example/ms/model_zoo/")
    monkeypatch.setenv("MSHUB_MIRRORS", "https://download.mindspore.cn=http://mirror.example/ms")  # refused
    assert cli.main(["info", SSD_UID]) == 0
    out = capsys.readouterr().out
    assert "will fetch:" not in out
    assert "will not fetch: refusing plain http for asset link http://mirror.example" in out


def _current_card(server, monkeypatch, tmp_path, model, body: bytes) -> str:
    """Serve the 'hub's current card' for `model`'s uid, naming a checkpoint with `body`; return its sha256."""
    monkeypatch.setenv("MSHUB_INDEX_URL", server.url("/index/{branch}/{uid}.md"))
    link = server.add("/files/newer.ckpt", body)
    digest = sha256(body)
    server.add(f"/index/r1.0/{model.uid}.md", write_md(tmp_path / "current.md", "tiny_a", link, digest).read_bytes())
    return digest


def test_a_gone_checkpoint_names_the_newer_one_upstream_and_never_switches(publish, server, monkeypatch, tmp_path):
    model = publish()
    server.routes.pop(model.path)  # the card's checkpoint answers 404
    newer = tiny_params(seed=5)
    digest = _current_card(server, monkeypatch, tmp_path, model, checkpoint_bytes(newer))
    with pytest.raises(DownloadError, match="HTTP 404") as caught:
        mshub.load(model.uid)
    message = str(caught.value)
    assert caught.value.status == 404
    assert f"A newer checkpoint exists upstream" in message and digest in message and "/files/newer.ckpt" in message
    assert f"mshub.load('{model.uid}', source='gitee')" in message and "Nothing was switched" in message
    assert not server.gets("/files/newer.ckpt")  # named, not fetched
    with pytest.raises(DownloadError, match="HTTP 404"):
        mshub.download(model.uid)  # asked again: still the card's own checkpoint, never the newer one
    network = mshub.load(model.uid, pretrained=False)  # the user's choice: the current card's weights, its sha256
    mshub.load_weights(network, model.uid, source="gitee")
    assert (network.dense.weight.asnumpy() == newer["dense.weight"]).all()


def test_a_gone_checkpoint_of_a_cached_remote_card_is_not_switched_by_the_hint(server, monkeypatch, tmp_path):
    """Reading the hub's current card for the hint must not replace the cached card the next load reads."""
    uid = "tests/cpu/1.0/remote_a"
    monkeypatch.setenv("MSHUB_INDEX_URL", server.url("/index/{branch}/{uid}.md"))
    old, new = checkpoint_bytes(tiny_params(seed=1)), checkpoint_bytes(tiny_params(seed=5))
    old_link, new_link = server.add("/files/old.ckpt", old), server.add("/files/new.ckpt", new)
    server.add(f"/index/r1.0/{uid}.md", write_md(tmp_path / "a.md", "tiny_a", old_link, sha256(old)).read_bytes())
    mshub.info(uid)  # the card as it was, cached
    server.routes.pop("/files/old.ckpt")
    server.add(f"/index/r1.0/{uid}.md", write_md(tmp_path / "b.md", "tiny_a", new_link, sha256(new)).read_bytes())
    for _ in range(2):  # asked again: still the cached card's checkpoint, never the newer one
        with pytest.raises(DownloadError, match="A newer checkpoint exists upstream") as caught:
            mshub.download(uid)
    assert f"mshub.load('{uid}', source='gitee', force_reload=True)" in str(caught.value)
    assert not server.gets("/files/new.ckpt")
    assert Path(mshub.download(uid, source="gitee", force_reload=True)).read_bytes() == new  # as the hint says


def test_a_gone_checkpoint_that_the_current_card_names_too_says_so(publish, server, monkeypatch, tmp_path):
    model = publish()
    _current_card(server, monkeypatch, tmp_path, model, model.body)
    server.routes.pop(model.path)
    with pytest.raises(DownloadError, match="names the same checkpoint; it is gone upstream too"):
        mshub.download(model.uid)


def _upstream_copy(tmp_path, model, body: bytes) -> Path:
    """Put `body` where upstream's mindspore_hub keeps `model`'s checkpoint (MSHUB_UPSTREAM_CACHE, conftest)."""
    path = tmp_path.joinpath("mscache", *model.uid.split("/")[:-1], Path(model.path).name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    return path


def test_a_checkpoint_in_upstreams_cache_is_adopted_once_its_sha256_matches(publish, server, tmp_path, hashed_files):
    model = publish()
    copy = _upstream_copy(tmp_path, model, model.body)
    path = Path(mshub.download(model.uid))
    assert server.gets(model.path) == []  # not downloaded again
    assert path.read_bytes() == model.body and copy.read_bytes() == model.body
    assert mshub.verify(model.uid)
    assert hashed_files == 2  # hashed when adopted, and by verify


def test_a_checkpoint_in_upstreams_cache_is_adopted_offline_too(publish, server, tmp_path, monkeypatch):
    model = publish()
    monkeypatch.setenv("MSHUB_OFFLINE", "1")
    with pytest.raises(OfflineError, match="is not in the cache"):
        mshub.download(model.uid)
    copy = _upstream_copy(tmp_path, model, b"not the checkpoint")
    with pytest.raises(OfflineError, match="is not in the cache"):  # a copy that does not match: still missing
        mshub.download(model.uid)
    copy.write_bytes(model.body)
    assert Path(mshub.download(model.uid)).read_bytes() == model.body
    assert server.requests == []


def test_a_copy_in_upstreams_cache_that_others_may_write_is_copied_not_linked(publish, server, tmp_path):
    """A hard link shares the inode: whoever may write the original could change the cache's bytes after the hash."""
    model = publish()
    shared = _upstream_copy(tmp_path, model, model.body)
    shared.chmod(0o666)
    adopted = Path(mshub.download(model.uid))
    assert server.gets(model.path) == [] and adopted.read_bytes() == model.body
    assert not os.path.samefile(adopted, shared)
    shared.write_bytes(b"changed by someone else")
    assert adopted.read_bytes() == model.body

    mshub.set_hub_dir(tmp_path / "fresh")
    private = _upstream_copy(tmp_path, model, model.body)
    private.chmod(0o644)
    assert os.path.samefile(mshub.download(model.uid), private)  # the user's own file: linked, not copied


def test_a_copy_in_upstreams_cache_larger_than_the_size_cap_is_not_copied(publish, server, tmp_path, monkeypatch):
    model = publish()
    shared = _upstream_copy(tmp_path, model, model.body)
    shared.chmod(0o666)  # it would be copied
    monkeypatch.setenv("MSHUB_MAX_SIZE", str(len(model.body) - 1))
    with pytest.raises(DownloadError):  # the download is held to the cap too
        mshub.download(model.uid)
    assert list(Path(mshub.get_hub_dir()).rglob("*adopt*")) == []
    asked = len(server.gets(model.path))
    monkeypatch.setenv("MSHUB_MAX_SIZE", str(len(model.body)))
    assert Path(mshub.download(model.uid)).read_bytes() == model.body  # within the cap: adopted, not downloaded
    assert len(server.gets(model.path)) == asked


def test_a_copy_in_upstreams_cache_that_does_not_match_is_never_used(publish, server, tmp_path, caplog):
    model = publish()
    copy = _upstream_copy(tmp_path, model, b"upstream kept a file that failed its hash")
    with caplog.at_level(logging.WARNING, logger="mindspore_hub"):
        path = Path(mshub.download(model.uid))
    assert len(server.gets(model.path)) == 1 and path.read_bytes() == model.body
    assert copy.read_bytes() == b"upstream kept a file that failed its hash"  # left alone
    assert "not adopting it" in caplog.text
    assert [leftover for leftover in path.parent.iterdir() if "adopt" in leftover.name] == []  # nor a copy of it


def test_a_link_in_upstreams_cache_is_not_followed(publish, server, tmp_path):
    model = publish()
    target = tmp_path / "elsewhere.ckpt"
    target.write_bytes(model.body)
    link = _upstream_copy(tmp_path, model, b"")
    link.unlink()
    link.symlink_to(target)
    mshub.download(model.uid)
    assert len(server.gets(model.path)) == 1


def test_source_local_reads_upstreams_local_layout(tmp_path, server, hashed_files):
    """Upstream's layout: code in ``<md folder>/<last name of repo-link>/``, the checkpoint beside the .md."""
    from tests.mindspore_hub.upstream_hub import lenet_params, write_lenet_entry

    folder = tmp_path / "my_hub" / "mindspore" / "1.6"
    params = lenet_params()
    body = checkpoint_bytes(params)
    url = server.url("/files/lenet_mnist.ckpt")  # not served: the copy beside the card is used
    md = write_md(folder / "lenet_mnist.md", "lenet", url, sha256(body),
                  repo_link="https://gitee.com/mindspore/models/tree/r1.6/official/cv/lenet")
    write_lenet_entry(folder / "lenet")
    (folder / "lenet_mnist.ckpt").write_bytes(body)
    network = mshub.load(str(md), 10, source="local")
    assert (network.fc3.weight.asnumpy() == params["fc3.weight"]).all()
    assert server.gets("/files/lenet_mnist.ckpt") == [] and hashed_files == 1

    (folder / "lenet_mnist.ckpt").write_bytes(body[:-1] + b"\0")  # not the card's checkpoint: never used
    mshub.set_hub_dir(tmp_path / "fresh")
    with pytest.raises(DownloadError, match="HTTP 404"):
        mshub.load(str(md), 10, source="local")


def test_mirrors_rewrite_repo_links_and_the_policy_judges_the_rewritten_url(remote_model, repo_url, server,
                                                                           monkeypatch):
    from tests.mindspore_hub.models import set_repo_link

    set_repo_link(remote_model, "https://git.example.org/team/models-repo/tree/main/models/tiny_r")
    monkeypatch.setenv("MSHUB_MIRRORS", f"https://git.example.org/team/models-repo={repo_url}")
    network = mshub.load(remote_model.uid, trust_repo=True)  # trust is given to the link as the card names it
    assert network.dense.weight.shape == (3, 4)
    assert any(path.startswith("/git/models-repo") for _, path, _ in server.requests)
    from mindspore_hub import trust
    assert "https://git.example.org/team/models-repo" in trust.trusted_repos()

    monkeypatch.setenv("MSHUB_MIRRORS", "https://git.example.org=http://git.corp.example")  # plain http elsewhere
    with pytest.raises(DownloadError, match="refusing plain http for repository http://git.corp.example/team"):
        mshub.load(remote_model.uid, force_reload=True, pretrained=False)


def test_the_readme_line_loads_the_checkpoint_upstreams_current_card_names(fixture_weights_module, server, tmp_path,
                                                                           monkeypatch):
    """``mshub.load(SSD_UID, source="gitee")`` reads upstream's current card (here: a copy on 127.0.0.1
    naming other weights, as acc32.2 is to acc31) and builds it with the installed entry."""
    ours = mshub.info(SSD_UID)
    weights = tmp_path / "acc32.2.ckpt"
    fixture_weights_module.save_checkpoint(str(weights), 1)
    body = weights.read_bytes()
    link = "https://download.mindspore.cn/model_zoo/r1.3/newer/ssdresnet50_acc32.2.ckpt"
    card = Path(ours.path).read_text(encoding="utf-8")
    card = card.replace(ours.assets[0].asset_link, link).replace(ours.assets[0].asset_sha256, sha256(body))
    server.add(f"/hub/raw/r1.3/mshub_res/assets/{SSD_UID}.md", card.encode())
    server.add("/dl/model_zoo/r1.3/newer/ssdresnet50_acc32.2.ckpt", body)
    monkeypatch.setenv("MSHUB_MIRRORS", f"https://gitee.com/mindspore/hub/raw={server.url('/hub/raw')},"
                                        f"https://download.mindspore.cn={server.url('/dl')}")
    monkeypatch.delenv("MSHUB_INDEX_URL")
    network = mshub.load(SSD_UID, source="gitee")
    expected = fixture_weights_module.weights(1)
    loaded = network.parameters_dict()
    assert len(loaded) == 355 and set(loaded) <= set(expected)
    assert all((parameter.asnumpy() == expected[name]).all() for name, parameter in loaded.items())


def test_upstreams_file_helpers_keep_only_verified_files(publish, server, tmp_path):
    from mindspore_hub._utils.auto_rename import auto_rename
    from mindspore_hub._utils.download import _download_file_from_url

    model = publish()
    with pytest.raises(ValueError, match="hash_sha256 is needed"):
        _download_file_from_url(model.url)
    path = Path(_download_file_from_url(model.url, hash_sha256=model.sha256, save_path=tmp_path / "ignored"))
    assert path.read_bytes() == model.body and str(path).startswith(mshub.get_hub_dir())

    renamed = Path(auto_rename(path, tmp_path / "named", model.md))
    assert renamed.name == "tiny_a.ckpt" and renamed.read_bytes() == model.body
    other = tmp_path / "other.ckpt"
    other.write_bytes(b"another model's weights")
    with pytest.raises(ValueError, match="not the .* that .* names"):
        auto_rename(other, tmp_path / "named", model.md)
    assert sorted(item.name for item in (tmp_path / "named").iterdir()) == ["tiny_a.ckpt"]  # no copy left

    outside = tmp_path / "outside.txt"
    outside.write_text("not to be overwritten")
    renamed.unlink()
    renamed.symlink_to(outside)
    auto_rename(path, tmp_path / "named", model.md)
    assert outside.read_text() == "not to be overwritten" and renamed.read_bytes() == model.body


def test_upstreams_repo_helper_never_replaces_a_folder_it_did_not_fetch(tmp_path, no_network, monkeypatch):
    from mindspore_hub._utils.download import _download_repo_from_url

    monkeypatch.setenv("MSHUB_OFFLINE", "1")  # a fetch would fail with OfflineError, not the refusal looked for
    mine = tmp_path / "work" / "googlenet"
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("my own work")
    link = "https://gitee.com/mindspore/models/tree/master/research/cv/googlenet"
    with pytest.raises(mshub.HubError, match="already exists and was not fetched"):
        _download_repo_from_url(link, tmp_path / "work")
    assert (mine / "notes.txt").read_text() == "my own work" and no_network == []
