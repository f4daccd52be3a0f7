"""The downloader against a local server that misbehaves: hashes, resume, retries, timeouts, policy."""

from __future__ import annotations

import errno
import importlib
import json
import logging
import os
import socket
import threading
import time
from pathlib import Path

import pytest

import mindspore_hub as mshub
from mindspore_hub import settings
from mindspore_hub.errors import ChecksumError, DownloadError, OfflineError
from tests.mindspore_hub.models import random_bytes, sha256

# mshub.download is the public function; the module is reached by its full name.
download = importlib.import_module("mindspore_hub.download")

MiB = 1 << 20


def _assets(hub: Path) -> list[Path]:
    return sorted(path for path in (hub / "assets").rglob("*") if path.is_file())


def test_cold_download_is_verified_and_marked(publish, server, hub_dir):
    model = publish(entry=False, body=random_bytes(MiB))
    path = Path(mshub.download(model.uid))
    assert path.read_bytes() == model.body
    assert path.parent.name == model.sha256 and path.parent.parent == hub_dir / "assets"
    assert path.with_name(path.name + ".verified").exists()
    assert not path.with_name(path.name + ".part").exists()
    assert len(server.gets(model.path)) == 1


def test_hash_mismatch_names_both_hashes_keeps_nothing_and_retries_next_time(publish, server, hub_dir):
    good = random_bytes(MiB)
    model = publish(entry=False, body=b"corrupted" + good[9:], expected_sha256=sha256(good))
    with pytest.raises(ChecksumError) as caught:
        mshub.download(model.uid)
    message = str(caught.value)
    assert f"expected: {sha256(good)}" in message
    assert f"actual:   {sha256(model.body)}" in message
    assert str(MiB) in message and model.url in message
    assert _assets(hub_dir) == []
    assert not (hub_dir / "assets" / model.sha256).exists()

    server.routes[model.path].body = good
    assert Path(mshub.download(model.uid)).read_bytes() == good
    assert len(server.gets(model.path)) == 2


def test_dropped_connection_resumes_with_range_and_ends_verified(publish, server):
    body = random_bytes(MiB)
    model = publish(entry=False, body=body, drop_after=300_000)
    assert Path(mshub.download(model.uid)).read_bytes() == body
    first, second = server.gets(model.path)
    assert "Range" not in first
    assert second["Range"] == "bytes=300000-"
    assert second["If-Range"] == '"v1"'


def test_server_ignoring_range_still_ends_verified(publish, server):
    body = random_bytes(MiB)
    model = publish(entry=False, body=body, drop_after=300_000, ignore_range=True)
    assert Path(mshub.download(model.uid)).read_bytes() == body
    assert [headers.get("Range") for headers in server.gets(model.path)] == [None, "bytes=300000-"]


def test_kept_part_is_rehashed_and_resumed(publish, server, hub_dir):
    body = random_bytes(MiB)
    model = publish(entry=False, body=body)
    folder = hub_dir / "assets" / model.sha256
    folder.mkdir(parents=True)
    (folder / f"{model.uid.rsplit('/', 1)[1]}.ckpt.part").write_bytes(body[:123_456])
    assert Path(mshub.download(model.uid)).read_bytes() == body
    assert server.gets(model.path)[0]["Range"] == "bytes=123456-"


def test_changed_file_behind_if_range_starts_over(publish, server, hub_dir):
    body = random_bytes(MiB)
    model = publish(entry=False, body=body)
    folder = hub_dir / "assets" / model.sha256
    folder.mkdir(parents=True)
    (folder / "tiny_a.ckpt.part").write_bytes(b"x" * 1000)  # bytes of an older version of the file
    (folder / "tiny_a.ckpt.part.json").write_text(json.dumps({"url": model.url, "validator": '"v0"'}))
    assert Path(mshub.download(model.uid)).read_bytes() == body
    headers = server.gets(model.path)[0]
    assert headers["Range"] == "bytes=1000-" and headers["If-Range"] == '"v0"'


def test_429_with_retry_after_then_200_succeeds(publish, server, waits):
    body = random_bytes(100_000)
    model = publish(entry=False, body=body, before=[(429, {"Retry-After": "3"})])
    assert Path(mshub.download(model.uid)).read_bytes() == body
    assert waits == [3.0]
    assert len(server.gets(model.path)) == 2


def test_5xx_and_refused_connections_back_off_then_give_up(publish, server, waits, monkeypatch, tmp_path):
    model = publish(entry=False, body=b"x", before=[(503, {}), (502, {}), (500, {}), (504, {})])
    with pytest.raises(DownloadError, match="3 attempt"):
        mshub.download(model.uid)
    assert waits == [0.01, 0.02]  # MSHUB_RETRIES=2: three attempts, exponential backoff between
    assert len(server.gets(model.path)) == 3

    monkeypatch.setenv("MSHUB_RETRIES", "1")
    with pytest.raises(DownloadError, match="connection error"):
        download.fetch_file("http://127.0.0.1:9/nothing.ckpt", tmp_path / "x.ckpt", "0" * 64)


def test_not_found_is_not_retried(publish, server, waits, monkeypatch):
    model = publish(entry=False, body=b"x")
    del server.routes[model.path]
    monkeypatch.setenv("MSHUB_INDEX_URL", server.url("/index/{branch}/{uid}.md"))  # asked for a newer card: 404 too
    with pytest.raises(DownloadError, match="HTTP 404"):
        mshub.download(model.uid)
    assert waits == [] and len(server.gets(model.path)) == 1


def test_server_that_never_answers_fails_within_the_timeout(publish, server, monkeypatch):
    model = publish(entry=False, body=b"x", hang=True)
    monkeypatch.setenv("MSHUB_TIMEOUT", "0.3")
    monkeypatch.setenv("MSHUB_RETRIES", "1")
    connect, read = settings.timeout()
    attempts = settings.retries() + 1
    budget = attempts * (connect + read) + sum(download.BACKOFF * 2 ** n for n in range(attempts - 1))
    outcome = []

    def run():
        try:
            mshub.download(model.uid)
        except DownloadError as error:
            outcome.append(error)

    worker = threading.Thread(target=run, daemon=True)
    started = time.monotonic()
    worker.start()
    worker.join(60)  # a guard against hanging forever
    elapsed = time.monotonic() - started
    assert not worker.is_alive(), "the download did not give up"
    assert outcome and "timed out" in str(outcome[0])
    assert len(server.gets(model.path)) == 2
    # Generous slack (a loaded machine), not a speed test: without the timeouts it would hang.
    assert elapsed < 3 * budget + 5, f"gave up after {elapsed:.1f} s; the timeouts allow {budget:.2f} s"


def test_html_page_instead_of_checkpoint_is_a_clear_error(publish, server, hub_dir):
    page = b"<!DOCTYPE html>\n<html><body>Please log in</body></html>"
    model = publish(entry=False, body=page, content_type="text/html; charset=utf-8",
                    expected_sha256=sha256(b"the real checkpoint"))
    with pytest.raises(ChecksumError, match="HTML page") as caught:
        mshub.download(model.uid)
    assert caught.value.size == len(page)
    assert _assets(hub_dir) == []


def test_size_cap_refuses_before_writing(publish, server, hub_dir, monkeypatch):
    model = publish(entry=False, body=random_bytes(MiB))
    monkeypatch.setenv("MSHUB_MAX_SIZE", str(MiB - 1))
    with pytest.raises(DownloadError, match="MSHUB_MAX_SIZE"):
        mshub.download(model.uid)
    assert _assets(hub_dir) == []


def test_full_disk_refuses_before_writing(publish, server, hub_dir, monkeypatch):
    model = publish(entry=False, body=random_bytes(MiB))
    monkeypatch.setattr(download.shutil, "disk_usage", lambda path: type("U", (), {"free": 1000})())
    with pytest.raises(DownloadError, match="not enough disk space"):
        mshub.download(model.uid)
    assert _assets(hub_dir) == []


def test_mirror_rewrites_the_asset_host(publish, server, tmp_path, monkeypatch):
    body = random_bytes(10_000)
    model = publish(entry=False, body=body)
    official = "https://download.example.invalid/models" + model.path
    md = model.md.read_text().replace(model.url, official)
    model.md.write_text(md)
    monkeypatch.setenv("MSHUB_MIRRORS", f"https://download.example.invalid/models={server.url('')}")
    assert Path(mshub.download(model.uid)).read_bytes() == body
    assert len(server.gets(model.path)) == 1


def test_plain_http_only_for_loopback_or_opt_in(no_network, monkeypatch, tmp_path):
    with pytest.raises(DownloadError, match="MSHUB_ALLOW_HTTP"):
        download.fetch_file("http://example.org/x.ckpt", tmp_path / "x.ckpt", "0" * 64)
    with pytest.raises(DownloadError, match="refusing"):
        download.fetch_file("ftp://example.org/x.ckpt", tmp_path / "x.ckpt", "0" * 64)
    assert no_network == []
    monkeypatch.setenv("MSHUB_ALLOW_HTTP", "1")
    with pytest.raises(DownloadError, match="connection error"):
        download.fetch_file("http://example.org/x.ckpt", tmp_path / "x.ckpt", "0" * 64)
    assert no_network  # it was allowed to try


def test_redirect_to_plain_http_elsewhere_is_refused(publish, server, monkeypatch):
    model = publish(entry=False, body=b"x", before=[(302, {"Location": "http://example.org/x.ckpt"})])
    with pytest.raises(DownloadError, match="redirect target"):
        mshub.download(model.uid)


def test_offline_cold_download_fails_clearly_without_a_socket(publish, server, no_network, monkeypatch):
    model = publish(entry=False, body=b"x")
    monkeypatch.setenv("MSHUB_OFFLINE", "1")
    with pytest.raises(OfflineError, match="MSHUB_OFFLINE=1.*not in the cache"):
        mshub.download(model.uid)
    assert no_network == []


def test_fetch_bytes_retries_and_caps(server, waits):
    url = server.add("/x.md", b"# x\n", before=[(503, {"Retry-After": "1"})])
    assert download.fetch_bytes(url) == b"# x\n"
    assert waits == [1.0]
    with pytest.raises(DownloadError, match="larger than"):
        download.fetch_bytes(url, limit=2)


def test_a_slow_drip_ends_at_the_download_deadline_and_keeps_its_part(publish, server, hub_dir, monkeypatch):
    model = publish(entry=False, body=random_bytes(MiB), chunk=4096, chunk_delay=0.02)  # ~5 s in all
    monkeypatch.setenv("MSHUB_DOWNLOAD_TIMEOUT", "0.5")
    started = time.monotonic()
    with pytest.raises(DownloadError, match="did not finish within MSHUB_DOWNLOAD_TIMEOUT=0.5 s") as caught:
        mshub.download(model.uid)
    assert time.monotonic() - started < 4  # not the ~5 s the drip takes (generous: a guard, not a speed test)
    part = hub_dir / "assets" / model.sha256 / "tiny_a.ckpt.part"
    assert 0 < part.stat().st_size < MiB and str(part) in str(caught.value)
    server.routes[model.path].chunk_delay = 0.0
    monkeypatch.delenv("MSHUB_DOWNLOAD_TIMEOUT")
    assert Path(mshub.download(model.uid)).read_bytes() == model.body
    assert server.gets(model.path)[-1]["Range"].startswith("bytes=")


def test_a_full_disk_without_content_length_names_the_folder_and_deletes_the_part(publish, server, hub_dir,
                                                                                   monkeypatch):
    model = publish(entry=False, body=random_bytes(3 * MiB), no_length=True)
    real_write, written = download.os.write, []

    def full_after_a_chunk(descriptor, data):
        if os.readlink(f"/proc/self/fd/{descriptor}").endswith(".part"):
            if written:
                raise OSError(errno.ENOSPC, "No space left on device")
            written.append(len(data))
        return real_write(descriptor, data)

    monkeypatch.setattr(download.os, "write", full_after_a_chunk)
    folder = hub_dir / "assets" / model.sha256
    with pytest.raises(DownloadError) as caught:
        mshub.download(model.uid)
    message = str(caught.value)
    assert "no space left" in message and str(folder) in message and "Free space" in message
    assert "partial file was deleted" in message and not folder.exists()
    monkeypatch.setattr(download.os, "write", real_write)
    assert Path(mshub.download(model.uid)).read_bytes() == model.body


def test_a_host_that_does_not_resolve_fails_after_one_short_retry_in_one_line(monkeypatch, tmp_path, caplog):
    lookups = []

    def unresolvable(host, *args, **kwargs):
        lookups.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", unresolvable)
    monkeypatch.setenv("MSHUB_RETRIES", "5")
    with caplog.at_level(logging.WARNING):
        with pytest.raises(DownloadError) as caught:
            download.fetch_file("https://download.example.invalid/x.ckpt", tmp_path / "x.ckpt", "0" * 64)
    message = str(caught.value)
    assert "\n" not in message and message.startswith("connection error: cannot resolve host download.example.invalid")
    assert lookups == ["download.example.invalid"] * 2
    assert caplog.records == []  # no warning per retry: the one line is the error
