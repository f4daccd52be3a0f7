"""Fixtures: a private hub directory, a misbehaving server on 127.0.0.1, tiny published models.

Every test runs with its own MSHUB_DIR under tmp_path (never the user's cache), the remote
index pointed at a closed loopback port, and sockets refused for any non-loopback address.
"""

from __future__ import annotations

import importlib
import os
import socket
import types
from dataclasses import dataclass
from pathlib import Path

import pytest

from mindspore_hub import hashes, manage, urls
from tests.mindspore_hub.hubserver import HubServer
from tests.mindspore_hub.models import (checkpoint_bytes, commit_repo, set_repo_link, sha256, tiny_params, write_entry,
                                        write_md)

# mshub.download is the public function; the module is reached by its full name.
download = importlib.import_module("mindspore_hub.download")


@pytest.fixture(autouse=True)
def hub_dir(tmp_path, monkeypatch):
    """A fresh hub directory and MSHUB_* environment for each test."""
    for key in [key for key in os.environ if key.startswith("MSHUB_")]:
        monkeypatch.delenv(key)
    hub = tmp_path / "hub"
    monkeypatch.setenv("MSHUB_DIR", str(hub))
    monkeypatch.setenv("MSHUB_RES_DIRS", str(tmp_path / "res"))
    monkeypatch.setenv("MSHUB_NO_PROGRESS", "1")
    monkeypatch.setenv("MSHUB_RETRIES", "2")
    monkeypatch.setenv("MSHUB_TIMEOUT", "10")
    monkeypatch.setenv("MSHUB_INDEX_URL", "http://127.0.0.1:9/{branch}/{uid}.md")
    monkeypatch.setenv("MSHUB_INDEX_REPO", "http://127.0.0.1:9/no-index-repo.git")  # a closed loopback port
    monkeypatch.setenv("MSHUB_UPSTREAM_CACHE", str(tmp_path / "mscache"))  # never the user's ~/.mscache
    monkeypatch.setattr(download, "BACKOFF", 0.01)
    monkeypatch.setattr(socket.socket, "connect", _loopback_only(socket.socket.connect))
    manage.set_hub_dir(None)
    yield hub
    manage.set_hub_dir(None)


def _loopback_only(connect):
    def guarded(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not urls.is_loopback(address[0]):
            raise OSError(f"tests never leave 127.0.0.1 (tried {address[0]})")
        return connect(self, address)
    return guarded


@pytest.fixture
def no_network(monkeypatch):
    """Make any socket connection or DNS lookup fail, and record the attempts."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network use forbidden in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return attempts


@pytest.fixture
def no_hashing(monkeypatch):
    """Fail the test if mindspore_hub hashes anything (all its hashing goes through `hashes`)."""
    def refuse(*args, **kwargs):
        raise AssertionError("a file was re-hashed")
    monkeypatch.setattr(hashes, "hashlib", type("NoHashlib", (), {"sha256": staticmethod(refuse)}))


@pytest.fixture
def waits(monkeypatch):
    """Record the backoff waits instead of sleeping them."""
    recorded = []
    monkeypatch.setattr(download, "time", types.SimpleNamespace(sleep=recorded.append))
    return recorded


@pytest.fixture
def hashed_files(monkeypatch):
    """A counter of whole files hashed (`hashes.file_sha256`), checked by the test with ``== n``."""
    class Count:
        calls = 0

        def __eq__(self, other):
            return self.calls == other

        def __repr__(self):
            return f"{self.calls} file(s) hashed"

    count, real = Count(), hashes.file_sha256

    def counting(source):
        count.calls += 1
        return real(source)

    monkeypatch.setattr(hashes, "file_sha256", counting)
    return count


@pytest.fixture
def server():
    hub = HubServer().start()
    yield hub
    hub.stop()


@dataclass
class Published:
    uid: str
    md: Path
    folder: Path
    url: str
    path: str
    body: bytes
    sha256: str
    params: dict


@pytest.fixture
def publish(tmp_path, server):
    """publish(name, version=..., ...) -> Published: a model in the local hub root, served by `server`."""

    def make(name: str = "tiny_a", version: str = "1.0", width: int = 3, scale: float = 1.0,
             entry: bool = True, body: bytes | None = None, params: dict | None = None,
             expected_sha256: str | None = None, **route) -> Published:
        folder = tmp_path / "res" / "assets" / "tests" / "cpu" / version
        if params is None and body is None:
            params = tiny_params(width)
        if body is None:
            body = checkpoint_bytes(params)
        path = f"/files/{version}/{name}.ckpt"
        url = server.add(path, body, **route)
        digest = expected_sha256 or sha256(body)
        md = write_md(folder / f"{name}.md", name, url, digest)
        if entry:
            write_entry(folder, name, scale)
        return Published(f"tests/cpu/{version}/{name}", md, folder, url, path, body, digest, params)

    return make


@pytest.fixture
def model_repo(tmp_path):
    """A git repository holding models/tiny_r (an entry) beside models/other."""
    root = tmp_path / "git" / "models-repo"
    write_entry(root / "models" / "tiny_r", "tiny_r", scale=2.0)
    (root / "models" / "other").mkdir(parents=True)
    (root / "models" / "other" / "big.bin").write_bytes(b"not needed")
    return commit_repo(root)


@pytest.fixture
def repo_url(model_repo, server):
    """`model_repo`'s URL, served over HTTP by the test server on 127.0.0.1."""
    return server.add_git(model_repo)


@pytest.fixture
def remote_model(publish, repo_url):
    """tiny_r: metadata in the local root, weights and code (git) on the server, no local entry."""
    model = publish("tiny_r", "3.0", entry=False)
    set_repo_link(model, f"{repo_url}/tree/main/models/tiny_r")
    return model
