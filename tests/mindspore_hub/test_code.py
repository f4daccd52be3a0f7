"""Finding and importing entries: installed, local folders in isolation, remote code only after trust."""

from __future__ import annotations

import importlib.metadata
import logging
import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import mindspore_hub as mshub
from mindspore_hub import code, repo
from mindspore_hub.errors import DownloadError, HubError, UnsafeNameError, UntrustedRepoError
from tests.mindspore_hub.models import git, set_repo_link


def _git_requests(server) -> list[str]:
    return [path for _, path, _ in server.requests if path.startswith("/git/")]


def _files(folder: Path) -> set[Path]:
    return {path for path in folder.rglob("*") if path.is_file()}


def test_remote_entry_is_refused_without_trust_and_says_how_to_grant_it(remote_model, repo_url, hub_dir, server):
    with pytest.raises(UntrustedRepoError) as caught:
        mshub.load(remote_model.uid)
    message = str(caught.value)
    for hint in ("trust_repo=True", "MSHUB_TRUST_REPO=1", "trusted_repos.json", f"mshub trust {repo_url}"):
        assert hint in message
    assert not (hub_dir / "code").exists()
    assert server.gets(remote_model.path) == [] and _git_requests(server) == []
    with pytest.raises(UntrustedRepoError):
        mshub.load(remote_model.uid, trust_repo=False)


def test_trusted_remote_entry_is_fetched_shallowly_pinned_and_loads(remote_model, model_repo, hub_dir, server,
                                                                     monkeypatch):
    network = mshub.load(remote_model.uid, trust_repo=True)
    assert _git_requests(server)  # fetched over HTTP from 127.0.0.1
    np.testing.assert_array_equal(network.dense.weight.asnumpy(), remote_model.params["dense.weight"])
    [fetched] = (hub_dir / "code").glob("*/tiny_r")
    assert {path.name for path in fetched.iterdir()} == {"hub_conf.py", "src", repo.SOURCE_FILE}
    assert not list((hub_dir / "code").rglob("big.bin"))  # only the entry's folder was checked out
    first = git(model_repo, "rev-parse", "HEAD").strip()
    assert json.loads((fetched / repo.SOURCE_FILE).read_text())["commit"] == first

    (model_repo / "models" / "tiny_r" / "src" / "net.py").write_text("raise ImportError('new commit')\n")
    git(model_repo, "commit", "-qam", "second")
    with monkeypatch.context() as patched:
        patched.setattr(repo, "fetch_folder", lambda *args: pytest.fail("fetched again"))
        mshub.load(remote_model.uid)  # the trusted list remembered it; the pinned copy is reused
    with pytest.raises(ImportError, match="new commit"):
        mshub.load(remote_model.uid, force_reload=True)


def test_env_var_trusts_every_repository(remote_model, monkeypatch):
    monkeypatch.setenv("MSHUB_TRUST_REPO", "1")
    assert mshub.load(remote_model.uid).dense.weight.shape == (3, 4)


def test_two_local_entries_with_a_src_package_load_in_one_process(publish):
    import mindspore as ms

    a = publish("tiny_a", "1.0", scale=2.0)
    b = publish("tiny_b", "2.0", scale=3.0, params=a.params)
    mine = types.ModuleType("src")
    sys.modules["src"] = mine  # the user's own `src` must neither be used by entries nor lost
    path_before, modules_before = list(sys.path), set(sys.modules)
    try:
        net_a, net_b = mshub.load(a.uid), mshub.load(b.uid)
        assert sys.path == path_before
        assert sys.modules["src"] is mine
        added = set(sys.modules) - modules_before
        assert all(name.startswith(code.PRIVATE) or name.startswith("mindspore.") for name in added), added
        x = ms.Tensor(np.ones((2, 4), np.float32))
        ms.set_context(mode=ms.GRAPH_MODE)  # the graph compiler imports each function's module by name
        try:
            out_a, out_b = net_a(x).asnumpy(), net_b(x).asnumpy()
        finally:
            ms.set_context(mode=ms.PYNATIVE_MODE)
    finally:
        del sys.modules["src"]
    np.testing.assert_allclose(out_b, out_a * 1.5, rtol=1e-6)


def test_upstream_entry_file_name_is_accepted(publish):
    model = publish()
    (model.folder / "hub_conf.py").rename(model.folder / "mindspore_hub_conf.py")
    assert mshub.load(model.uid).dense.weight.shape == (3, 4)


def test_entry_without_create_network_is_a_clear_error(publish):
    model = publish()
    (model.folder / "hub_conf.py").write_text("x = 1\n")
    with pytest.raises(HubError, match="has no function create_network"):
        mshub.load(model.uid)


def fake_installed_entry(name, *args, **kwargs):
    from mindspore import nn

    return nn.Dense(4, 3)


def test_installed_entry_point_comes_first(publish, monkeypatch):
    model = publish()
    fake = importlib.metadata.EntryPoint("tiny_a", f"{__name__}:fake_installed_entry", code.ENTRY_GROUP)
    monkeypatch.setattr(code.importlib.metadata, "entry_points", lambda group: [fake] if group == code.ENTRY_GROUP else [])
    entry = code.find_entry(mshub.info(model.uid))
    assert entry.factory is fake_installed_entry and "installed entry point" in entry.origin
    network = mshub.load(model.uid, pretrained=False)
    assert sorted(network.parameters_dict()) == ["bias", "weight"]


def test_this_project_registers_its_entry():
    entry = code.installed_entry("SSD_ResNet50")
    assert entry is not None and entry.value == "ssd_resnet50.model:create_network"


SERVED_FOLDERS = ("models/tiny_a",)


@pytest.mark.parametrize("folder, chosen", [("models/tiny_a", True), ("elsewhere/tiny_a", False)])
def test_an_entry_that_declares_its_folders_serves_only_their_cards(publish, monkeypatch, caplog, folder, chosen):
    model = publish(entry=False)
    set_repo_link(model, f"https://example.org/o/r/tree/v2/{folder}")
    groups = {code.ENTRY_GROUP: importlib.metadata.EntryPoint("tiny_a", f"{__name__}:fake_installed_entry",
                                                              code.ENTRY_GROUP),
              code.hook_group("serves"): importlib.metadata.EntryPoint("tiny_a", f"{__name__}:SERVED_FOLDERS",
                                                                       code.hook_group("serves"))}
    monkeypatch.setattr(code.importlib.metadata, "entry_points",
                        lambda group: [groups[group]] if group in groups else [])
    with caplog.at_level(logging.INFO, logger="mindspore_hub.code"):
        if chosen:
            assert code.find_entry(mshub.info(model.uid)).factory is fake_installed_entry
        else:
            with pytest.raises(UntrustedRepoError):  # the card's own code, which needs trust
                code.find_entry(mshub.info(model.uid), trust_repo=False)
    expected = "is one it serves" if chosen else "not using the installed entry"
    assert expected in caplog.text and "tests/cpu/1.0/tiny_a" in caplog.text


@pytest.mark.parametrize("link, chosen", [
    ("https://gitee.com/mindspore/models/tree/master/research/cv/ssd_resnet50", True),
    ("https://gitee.com/mindspore/mindspore/tree/r1.2/model_zoo/research/cv/ssd_resnet50", True),
    ("https://gitee.com/mindspore/models/tree/r1.2/official/cv/ssd", False),  # another ssd_resnet50 card's code
])
def test_the_ssd_entry_serves_cards_of_its_model_zoo_folder_only(tmp_path, link, chosen):
    from mindspore_hub.metadata import parse_text

    card = (tmp_path / "assets" / "mindspore" / "ascend" / "1.2" / "ssdresnet50_v1.2_coco2017.md")
    card.parent.mkdir(parents=True)
    card.write_text(f"# ssd\n---\nmodel-name: ssd_resnet50\nrepo-link: <{link}>\n---\n")
    info = parse_text(card.read_text(), card)
    if chosen:
        assert code.find_entry(info).origin.startswith("installed entry point ssd_resnet50")
    else:
        with pytest.raises(UntrustedRepoError):
            code.find_entry(info, trust_repo=False)


def test_the_packaged_card_is_served_by_the_installed_entry():
    entry = code.find_entry(mshub.info("mindspore/ascend/1.3/ssdresnet50_v1.3_coco2017"))
    assert entry.origin.startswith("installed entry point ssd_resnet50")


@pytest.mark.parametrize("link", [
    "http://127.0.0.1:{port}/files/../x.ckpt",
    "http://127.0.0.1:{port}/files/..%2Fx.ckpt",
    "http://127.0.0.1:{port}/files/%2E%2E/x.ckpt",
    "http://127.0.0.1:{port}/files/",
    "/etc/x.ckpt",
    "file:///etc/x.ckpt",
])
def test_unsafe_asset_link_is_refused_before_anything_is_written(link, publish, server, tmp_path):
    model = publish()
    link = link.format(port=server.port)
    model.md.write_text(model.md.read_text().replace(model.url, link))
    before = _files(tmp_path)
    with pytest.raises(UnsafeNameError):
        mshub.load(model.uid)
    assert _files(tmp_path) == before
    assert server.requests == []


@pytest.mark.parametrize("folder", ["models/..", "models/../..", "..", "models/%2E%2E", "models/a%2Fb"])
def test_unsafe_repo_link_is_refused_before_anything_is_written(folder, remote_model, repo_url, server, tmp_path):
    set_repo_link(remote_model, f"{repo_url}/tree/main/{folder}")
    before = _files(tmp_path)
    with pytest.raises(UnsafeNameError):
        mshub.load(remote_model.uid, trust_repo=True)
    assert _files(tmp_path) == before
    assert _git_requests(server) == []


def test_file_repo_links_are_refused(remote_model, model_repo, hub_dir):
    set_repo_link(remote_model, f"{model_repo.as_uri()}/tree/main/models/tiny_r")
    with pytest.raises(DownloadError, match="only https"):
        mshub.load(remote_model.uid, trust_repo=True)
    assert not (hub_dir / "code").exists()


def test_repo_link_parsing():
    link = repo.parse_link("https://gitee.com/mindspore/mindspore/tree/r1.3/model_zoo/research/cv/ssd_resnet50")
    assert (link.url, link.ref, link.folder, link.name) == (
        "https://gitee.com/mindspore/mindspore", "r1.3", "model_zoo/research/cv/ssd_resnet50", "ssd_resnet50")
    assert repo.parse_link("https://github.com/o/r").name == "r"
    with pytest.raises(HubError, match="ref"):
        repo.parse_link("https://github.com/o/r/tree/--upload-pack=evil/x")
    with pytest.raises(Exception, match="plain http"):
        repo.parse_link("http://example.org/o/r/tree/main/x")


def test_code_fetched_by_another_process_during_the_wait_for_the_lock_is_reused(remote_model, monkeypatch):
    mshub.load(remote_model.uid, trust_repo=True, pretrained=False)
    real, calls = repo.fetched_commit, []

    def not_there_before_the_lock(dest):
        calls.append(dest)
        return None if len(calls) == 1 else real(dest)  # another process fetched it meanwhile

    monkeypatch.setattr(repo, "fetched_commit", not_there_before_the_lock)
    monkeypatch.setattr(repo, "fetch_folder", lambda *args: pytest.fail("fetched again under the lock"))
    assert mshub.load(remote_model.uid, pretrained=False).dense.weight.shape == (3, 4)
    assert len(calls) == 2


@pytest.mark.parametrize("case", ["sha256", "file-name", "long-file-name", "cache-suffix", "mirror-policy"])
def test_a_bad_checkpoint_asset_is_refused_before_remote_code_is_fetched_or_run(case, remote_model, server, hub_dir,
                                                                               monkeypatch):
    text = remote_model.md.read_text()
    if case == "sha256":
        remote_model.md.write_text(text.replace(remote_model.sha256, "f4208754"))
        error, words = HubError, "64 hex"
    elif case == "file-name":
        remote_model.md.write_text(text.replace(remote_model.url, server.url("/files/../x.ckpt")))
        error, words = UnsafeNameError, "'..'"
    elif case == "long-file-name":  # 250 characters: fine alone, too long with ".part.json" (ENAMETOOLONG)
        remote_model.md.write_text(text.replace(remote_model.url, server.url(f"/files/{'n' * 245}.ckpt")))
        error, words = UnsafeNameError, "250 bytes long"
    elif case == "cache-suffix":  # would pass for the cache's own companion file
        remote_model.md.write_text(text.replace(remote_model.url, server.url("/files/tiny_r.ckpt.verified")))
        error, words = UnsafeNameError, "ends like a file the cache keeps"
    else:
        monkeypatch.setenv("MSHUB_MIRRORS", f"{server.url('')}=http://mirror.example.org")
        error, words = DownloadError, "MSHUB_ALLOW_HTTP"
    monkeypatch.setattr(code.Entry, "create", lambda *args, **kwargs: pytest.fail("create_network ran"))
    with pytest.raises(error, match=words):
        mshub.load(remote_model.uid, trust_repo=True)
    assert server.requests == []  # neither the code (git) nor the weights were asked for
    assert not (hub_dir / "code").exists()


NESTED_ENTRY = '''\
from lib.layers.net import TinyNet


def create_network(name, *args, **kwargs):
    return TinyNet(*args, **kwargs)
'''


def test_a_package_holding_only_subpackages_is_isolated_too(publish):
    import mindspore as ms

    models = [publish("tiny_a", "1.0", scale=2.0), publish("tiny_b", "2.0", scale=3.0)]
    for model in models:  # lib/ has no .py file of its own, only the package lib/layers/
        (model.folder / "lib").mkdir()
        (model.folder / "src").rename(model.folder / "lib" / "layers")
        (model.folder / "hub_conf.py").write_text(NESTED_ENTRY)
    net_a, net_b = (mshub.load(model.uid, pretrained=False) for model in models)
    assert "lib" not in sys.modules and "lib.layers" not in sys.modules
    net_b.dense.weight.set_data(net_a.dense.weight.value())
    net_b.dense.bias.set_data(net_a.dense.bias.value())
    x = ms.Tensor(np.ones((2, 4), np.float32))
    np.testing.assert_allclose(net_b(x).asnumpy(), net_a(x).asnumpy() * 1.5, rtol=1e-6)


def test_an_entry_module_named_like_a_standard_one_is_not_redirected_and_warns(publish, caplog):
    model = publish()
    (model.folder / "json.py").write_text("raise ImportError('the entry shadowed the real json')\n")
    with caplog.at_level(logging.WARNING, logger="mindspore_hub"):
        mshub.load(model.uid)
    assert f"{model.folder} provides json" in caplog.text
