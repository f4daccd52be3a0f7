"""The URL policy, judged with the parser the HTTP client uses."""

from __future__ import annotations

import pytest
import requests
from urllib3.util import parse_url

from mindspore_hub import urls
from mindspore_hub.errors import DownloadError


@pytest.mark.parametrize("url", [
    "https://download.mindspore.cn/model_zoo/r1.3/x.ckpt",
    "http://127.0.0.1:8000/x.ckpt",
    "http://localhost/x",
    "http://[::1]:8000/x",
    "https://gitee.com/mindspore/models/tree/r1.3/official/cv/alexnet",
    "https://h.example/a%20b.ckpt?x=1",
])
def test_accepted_urls_name_the_host_requests_connects_to(url):
    assert urls.check(url) == url
    assert urls.host_of(url) == parse_url(requests.Request("GET", url).prepare().url).host


@pytest.mark.parametrize("url, words", [
    ("http://example.invalid\\@127.0.0.1:8/w.ckpt", "backslash"),
    ("https://a.example/x\nhttps://b.example/y", "control character"),
    ("https://a.example/x\rhttps://b.example/y", "control character"),
    ("https://a.example/x y", "a space"),
    ("https://a.example/\x1b[2J", "control character"),
    ("https://user@a.example/x", "user information"),
    ("https://user:secret@a.example/x", "user information"),
    ("http://127.0.0.1:8@example.invalid/x", "user information"),
    ("https://a.example:99999/x", "not a valid URL"),
    ("https:///x", "not a valid URL"),
    ("file:///etc/passwd", "only https"),
    ("ssh://a.example/r.git", "only https"),
    ("http://example.org/x", "MSHUB_ALLOW_HTTP"),
    ("http://127.1/x", "MSHUB_ALLOW_HTTP"),  # loopback to the kernel, but not spelled as one
])
def test_ambiguous_or_unsafe_urls_are_refused(url, words):
    with pytest.raises(DownloadError, match=words):
        urls.check(url, "link")


def test_published_links_must_be_https():
    with pytest.raises(DownloadError, match="https://"):
        urls.check("http://127.0.0.1:8/x", "asset-link", published=True)


def test_mirrors_are_checked_after_rewriting(monkeypatch):
    monkeypatch.setenv("MSHUB_MIRRORS", "https://download.mindspore.cn=https://mirror.example\\@127.0.0.1")
    with pytest.raises(DownloadError, match="backslash"):
        urls.asset_url("https://download.mindspore.cn/x.ckpt")


@pytest.mark.parametrize("link, fetched", [
    ("https://download.mindspore.cn/a.ckpt", "https://mirror.example/ms/a.ckpt"),
    ("https://download.mindspore.cn", "https://mirror.example/ms"),
    # a link cannot extend the rule's host or folder: these go where they say, unrewritten
    ("https://download.mindspore.cn.attacker.example/a.ckpt", "https://download.mindspore.cn.attacker.example/a.ckpt"),
    ("https://gitee.com/mindspore-fork/models", "https://gitee.com/mindspore-fork/models"),
    ("https://gitee.com/mindspore/models", "https://git.corp.example/mindspore/models"),
])
def test_a_mirror_prefix_matches_only_up_to_a_boundary(monkeypatch, link, fetched):
    monkeypatch.setenv("MSHUB_MIRRORS", "https://download.mindspore.cn=https://mirror.example/ms,"
                                        "https://gitee.com/mindspore=https://git.corp.example/mindspore")
    assert urls.apply_mirrors(link) == fetched
