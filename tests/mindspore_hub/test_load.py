"""mshub.load and friends end to end: metadata lookup, cold/warm/offline loads, strict weights."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

import mindspore_hub as mshub
from mindspore_hub.errors import DownloadError, HubError, OfflineError, WeightsMismatchError
from tests.mindspore_hub.models import commit_repo, sha256, tiny_params, write_md

SSD_UID = "mindspore/ascend/1.3/ssdresnet50_v1.3_coco2017"


def _values(network) -> dict:
    return {name: parameter.asnumpy() for name, parameter in network.parameters_dict().items()}


def _assert_loaded(network, params) -> None:
    values = _values(network)
    assert sorted(values) == ["dense.bias", "dense.weight"]
    for name, value in values.items():
        np.testing.assert_array_equal(value, params[name])


def test_cold_then_warm_load(publish, server, request):
    model = publish()
    _assert_loaded(mshub.load(model.uid), model.params)
    assert len(server.gets(model.path)) == 1

    attempts = request.getfixturevalue("no_network")
    hashed = request.getfixturevalue("hashed_files")
    _assert_loaded(mshub.load(model.uid), model.params)
    assert attempts == []
    assert len(server.gets(model.path)) == 1
    assert hashed == 1  # a warm load hashes what it loads, once


def test_offline_warm_load_works_and_offline_cold_load_fails_clearly(publish, server, request, monkeypatch):
    warm = publish("tiny_a", "1.0")
    cold = publish("tiny_b", "2.0")
    mshub.download(warm.uid)
    attempts = request.getfixturevalue("no_network")
    monkeypatch.setenv("MSHUB_OFFLINE", "1")
    _assert_loaded(mshub.load(warm.uid), warm.params)
    with pytest.raises(OfflineError, match=r"MSHUB_OFFLINE=1\) and tiny_b.ckpt .* is not in the cache"):
        mshub.load(cold.uid)
    assert attempts == [] and server.gets(cold.path) == []


def test_args_and_kwargs_reach_create_network(publish):
    model = publish(width=5)
    network = mshub.load(model.uid, 5)
    assert network.dense.weight.shape == (5, 4)
    assert mshub.load(model.uid, width=5, pretrained=False).dense.weight.shape == (5, 4)


def test_strict_load_names_missing_and_mismatched_tensors(publish):
    params = tiny_params()
    del params["dense.bias"]
    model = publish(params=params)
    with pytest.raises(WeightsMismatchError, match="dense.bias") as caught:
        mshub.load(model.uid)
    assert caught.value.missing == ["dense.bias"]

    wide = publish("tiny_b", "2.0", width=3, params=tiny_params(width=6))
    with pytest.raises(WeightsMismatchError, match=r"dense.weight: \(3, 4\) Float32 vs \(6, 4\) Float32"):
        mshub.load(wide.uid)

    half = {name: value.astype(np.float16) if name == "dense.bias" else value for name, value in tiny_params().items()}
    other_dtype = publish("tiny_c", "3.0", params=half)
    with pytest.raises(WeightsMismatchError, match=r"dense.bias: \(3,\) Float32 vs \(3,\) Float16"):
        mshub.load(other_dtype.uid)


def test_non_strict_load_keeps_what_fits_and_logs_the_rest(publish, caplog):
    params = tiny_params()
    del params["dense.bias"]
    model = publish(params=params)
    with caplog.at_level(logging.WARNING, logger="mindspore_hub"):
        network = mshub.load(model.uid, strict=False)
    np.testing.assert_array_equal(network.dense.weight.asnumpy(), params["dense.weight"])
    assert "dense.bias" in caplog.text


def test_optimizer_entries_of_a_training_checkpoint_are_ignored(publish):
    model = publish()  # its checkpoint also holds moments.dense.weight and global_step
    assert "global_step" in model.params
    _assert_loaded(mshub.load(model.uid), model.params)


def test_load_weights_download_and_info(publish):
    model = publish()
    info = mshub.info(model.uid)
    assert (info.model_name, info.uid, info.assets[0].asset_sha256) == ("tiny_a", model.uid, model.sha256)
    path = mshub.download(model.uid)
    assert Path(path).read_bytes() == model.body
    weights = mshub.load_weights(model.uid)
    np.testing.assert_array_equal(weights["dense.weight"].asnumpy(), model.params["dense.weight"])
    assert "global_step" in weights


def test_load_weights_into_a_network_as_upstream_does(publish):
    model = publish()
    network = mshub.load(model.uid, pretrained=False)
    assert mshub.load_weights(network, model.uid) is network
    _assert_loaded(network, model.params)
    wider = mshub.load(model.uid, 6, pretrained=False)
    with pytest.raises(WeightsMismatchError, match="dense.weight"):
        mshub.load_weights(wider, handle=model.uid)  # strict, as load is
    with pytest.raises(TypeError, match="handle"):
        mshub.load_weights(network)


def test_a_local_md_path_loads(publish, tmp_path):
    model = publish()
    _assert_loaded(mshub.load(str(model.md)), model.params)
    _assert_loaded(mshub.load(model.md, source="local"), model.params)


def test_hub_list_returns_uids_that_load_accepts(publish):
    model = publish()
    uids = mshub.hub_list(local_only=True)
    assert model.uid in uids
    assert SSD_UID in uids  # this project's mshub_res, shipped as package data
    assert model.uid in mshub.hub_list("1.0", local_only=True) and SSD_UID not in mshub.hub_list("1.0", local_only=True)
    _assert_loaded(mshub.load(model.uid), model.params)


def test_hub_list_includes_the_remote_index(tmp_path, monkeypatch, server):
    index = tmp_path / "git" / "index"
    write_md(index / "mshub_res" / "assets" / "mindspore" / "1.9" / "remote_net.md", "remote_net",
             "https://example.invalid/remote.ckpt", "0" * 64)
    write_md(index / "other" / "unrelated.md", "x", "https://example.invalid/x.ckpt", "0" * 64)
    commit_repo(index, "master")
    monkeypatch.setenv("MSHUB_INDEX_REPO", server.add_git(index))  # served over HTTP, as gitee serves it
    assert "mindspore/1.9/remote_net" in mshub.hub_list()
    monkeypatch.setenv("MSHUB_OFFLINE", "1")
    assert "mindspore/1.9/remote_net" in mshub.hub_list()  # cached


def test_remote_metadata_comes_from_the_index_branch_of_the_uid_era_and_is_cached(server, monkeypatch, tmp_path):
    monkeypatch.setenv("MSHUB_INDEX_URL", server.url("/{branch}/{uid}.md"))
    text = write_md(tmp_path / "scratch.md", "remote", "https://example.invalid/a.ckpt", "1" * 64).read_bytes()
    old_era = "/r1.0/tests/cpu/1.0/remote.md"
    server.add(old_era, text)
    server.add("/master/tests/1.0/remote.md", text)
    info = mshub.info("tests/cpu/1.0/remote")
    assert (info.uid, info.model_name) == ("tests/cpu/1.0/remote", "remote")
    assert mshub.info("tests/1.0/remote").uid == "tests/1.0/remote"
    mshub.info("tests/cpu/1.0/remote")
    assert len(server.gets(old_era)) == 1  # cached
    mshub.info("tests/cpu/1.0/remote", force_reload=True)
    assert len(server.gets(old_era)) == 2


def test_a_url_to_an_md_loads_its_metadata(server, tmp_path):
    text = write_md(tmp_path / "scratch.md", "by_url", "https://example.invalid/a.ckpt", "1" * 64).read_text()
    url = server.add("/mshub_res/assets/tests/cpu/1.0/by_url.md", text.encode())
    info = mshub.info(url)
    assert (info.model_name, info.uid) == ("by_url", "tests/cpu/1.0/by_url")


def test_broken_remote_metadata_is_not_cached(server, monkeypatch, hub_dir):
    monkeypatch.setenv("MSHUB_INDEX_URL", server.url("/{branch}/{uid}.md"))
    server.add("/master/tests/1.0/broken.md", b"# broken\nno front matter\n")
    with pytest.raises(ValueError, match="front matter"):
        mshub.info("tests/1.0/broken")
    assert not (hub_dir / "metadata").exists() or not any((hub_dir / "metadata").rglob("*.md"))


def test_offline_metadata_miss_says_where_it_looked(monkeypatch, no_network):
    monkeypatch.setenv("MSHUB_OFFLINE", "1")
    with pytest.raises(OfflineError, match="no metadata for tests/cpu/9.9/absent"):
        mshub.info("tests/cpu/9.9/absent")
    assert no_network == []


def test_unreachable_index_is_a_download_error(monkeypatch):
    monkeypatch.setenv("MSHUB_RETRIES", "0")
    with pytest.raises(DownloadError):
        mshub.info("tests/cpu/9.9/absent")


def test_a_model_without_assets_needs_pretrained_false(publish):
    model = publish()
    text = model.md.read_text()
    start = text.index("asset:")
    model.md.write_text(text[:start] + text[text.index("license:"):])
    assert mshub.load(model.uid, pretrained=False) is not None
    with pytest.raises(HubError, match="pretrained=False"):
        mshub.load(model.uid)


def test_upstream_manage_module_is_there(tmp_path):
    mshub.manage.set_hub_dir(tmp_path / "elsewhere")
    assert mshub.get_hub_dir() == str(tmp_path / "elsewhere")
    assert mshub.manage.get_hub_dir() == str(tmp_path / "elsewhere")
    mshub.set_hub_dir(None)


@pytest.mark.slow
def test_our_uid_loads_through_the_installed_entry_point(server, fixture_weights_module, tmp_path, monkeypatch):
    pytest.importorskip("ssd_resnet50.model")
    import mindspore as ms

    weights = fixture_weights_module.weights(0)
    ckpt = tmp_path / "full.ckpt"
    ms.save_checkpoint([{"name": name, "data": ms.Tensor(value)} for name, value in weights.items()], str(ckpt))
    body = ckpt.read_bytes()
    url = server.add("/ssd.ckpt", body)
    ours = mshub.info(SSD_UID)
    md = write_md(tmp_path / "res" / "assets" / "mindspore" / "ascend" / "1.3" / "ssdresnet50_v1.3_coco2017.md",
                  ours.model_name, url, sha256(body), repo_link=ours.repo_link)
    assert mshub.info(SSD_UID).path == str(md)  # MSHUB_RES_DIRS comes before the packaged root
    network = mshub.load(SSD_UID)
    loaded = _values(network)
    assert set(weights) <= set(loaded)
    name = next(iter(weights))
    np.testing.assert_array_equal(loaded[name], weights[name])

