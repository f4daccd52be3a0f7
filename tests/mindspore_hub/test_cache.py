"""The cache: verified markers, cross-process locking, crash recovery, on-demand verification."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import filelock
import pytest

import mindspore_hub as mshub
from mindspore_hub import cache, cli
from mindspore_hub.errors import HubError, LockTimeoutError
from tests.mindspore_hub.models import random_bytes, rot

MiB = 1 << 20
REPO = Path(__file__).resolve().parents[2]


def _wait_for(condition, what: str, limit: float = 120.0) -> None:
    """Poll `condition` (a guard against hanging, not a speed check)."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


def test_warm_download_opens_no_socket_and_does_not_rehash(publish, server, request):
    model = publish(entry=False, body=random_bytes(MiB))
    cold = mshub.download(model.uid)
    attempts = request.getfixturevalue("no_network")
    request.getfixturevalue("no_hashing")
    assert mshub.download(model.uid) == cold
    assert attempts == []
    assert len(server.gets(model.path)) == 1


def test_marker_is_ignored_when_the_file_changed(publish, server, hub_dir):
    model = publish(entry=False, body=random_bytes(MiB))
    path = Path(mshub.download(model.uid))
    path.write_bytes(b"tampered" + model.body[8:])  # same size, new mtime
    assert Path(mshub.download(model.uid)).read_bytes() == model.body
    assert len(server.gets(model.path)) == 2  # re-hashed, found corrupt, downloaded again


def test_file_without_marker_is_verified_locally_not_downloaded(publish, server):
    model = publish(entry=False, body=random_bytes(MiB))
    path = Path(mshub.download(model.uid))
    path.with_name(path.name + ".verified").unlink()
    assert mshub.download(model.uid) == str(path)
    assert path.with_name(path.name + ".verified").exists()
    assert len(server.gets(model.path)) == 1


def test_verify_rehashes_on_demand_and_deletes_corrupt_files(publish, server):
    model = publish(entry=False, body=random_bytes(MiB))
    path = Path(mshub.download(model.uid))
    assert mshub.verify(model.uid) is True
    assert mshub.verify(path) is True
    rot(path, model.sha256, b"X" + model.body[1:])
    assert mshub.download(model.uid) == str(path)  # the marker is trusted by download...
    assert mshub.verify(model.uid) is False  # ...and verify re-hashes
    assert not path.exists()


def test_a_flipped_byte_with_the_mtime_restored_is_noticed_by_the_marker(publish, server, capsys):
    model = publish(entry=False, body=random_bytes(MiB))
    path = Path(mshub.download(model.uid))
    stat = path.stat()
    path.write_bytes(b"X" + model.body[1:])
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # size and mtime as they were; ctime is not
    assert [entry.state for entry in cache.entries()] == ["changed"]
    assert cli.main(["cache", "ls"]) == 0 and "changed" in capsys.readouterr().out
    assert Path(mshub.download(model.uid)).read_bytes() == model.body  # re-hashed, found corrupt, fetched again
    assert len(server.gets(model.path)) == 2
    assert [entry.state for entry in cache.entries()] == ["verified"]


@pytest.mark.parametrize("where", ["outside", "through-dotdot", "marker"])
def test_verify_refuses_paths_that_are_not_cached_checkpoints_and_leaves_them_alone(where, hub_dir, tmp_path, capsys):
    sha = "ab" * 32
    precious = tmp_path / "elsewhere" / sha / "precious.ckpt"  # a folder named like a hash is not enough
    precious.parent.mkdir(parents=True)
    precious.write_bytes(b"not what the hash says")
    (hub_dir / "assets" / sha).mkdir(parents=True)
    given = {"outside": precious,
             "through-dotdot": hub_dir / "assets" / sha / ".." / ".." / ".." / "elsewhere" / sha / "precious.ckpt",
             "marker": hub_dir / "assets" / sha / "x.ckpt.part"}[where]
    if where == "marker":
        given.write_bytes(b"a resumable part")
        precious = given
    with pytest.raises(HubError, match="not a checkpoint in the cache"):
        mshub.verify(given)
    assert cli.main(["verify", str(given)]) == 1
    assert "mshub: error:" in capsys.readouterr().err
    assert precious.exists()


def test_verify_takes_the_download_lock(publish, server, hub_dir, monkeypatch):
    model = publish(entry=False, body=random_bytes(1000))
    path = Path(mshub.download(model.uid))
    monkeypatch.setenv("MSHUB_LOCK_TIMEOUT", "0.2")
    with filelock.FileLock(hub_dir / "locks" / f"{model.sha256}.lock"):  # another process is downloading it
        with pytest.raises(LockTimeoutError):
            mshub.verify(path)
        with pytest.raises(LockTimeoutError):
            mshub.verify(model.uid)
    assert mshub.verify(path) is True


def test_a_corrupt_unverified_file_is_replaced_by_resuming_the_kept_part(publish, server, hub_dir):
    body = random_bytes(MiB)
    model = publish(entry=False, body=body)
    folder = hub_dir / "assets" / model.sha256
    folder.mkdir(parents=True)
    (folder / "tiny_a.ckpt").write_bytes(b"corrupt, and no marker")
    (folder / "tiny_a.ckpt.part").write_bytes(body[:123_456])
    assert Path(mshub.download(model.uid)).read_bytes() == body
    assert [headers.get("Range") for headers in server.gets(model.path)] == ["bytes=123456-"]


def test_lock_held_too_long_times_out_with_a_clear_message(publish, server, hub_dir, monkeypatch):
    model = publish(entry=False, body=random_bytes(1000))
    monkeypatch.setenv("MSHUB_LOCK_TIMEOUT", "0.2")
    (hub_dir / "locks").mkdir(parents=True)
    with filelock.FileLock(hub_dir / "locks" / f"{model.sha256}.lock"):
        with pytest.raises(LockTimeoutError, match="MSHUB_LOCK_TIMEOUT"):
            mshub.download(model.uid)
    assert server.gets(model.path) == []


def test_entries_and_remove(publish, server, hub_dir):
    model = publish(entry=False, body=random_bytes(1000))
    path = Path(mshub.download(model.uid))
    [entry] = cache.entries()
    assert (entry.sha256, entry.path, entry.size, entry.state) == (model.sha256, path, 1000, "verified")
    assert cache.remove(model.sha256) is True
    assert cache.entries() == [] and not path.exists()
    assert cache.remove(model.sha256) is False


CHILD = """
import json, os, sys, time
import mindspore_hub as mshub
uid, width, ready, go = sys.argv[1:5]
open(ready, "w").close()
while not os.path.exists(go):
    time.sleep(0.01)
net = mshub.load(uid, width=int(width))
print(json.dumps({name: p.asnumpy().tolist() for name, p in net.parameters_dict().items()}))
"""


@pytest.mark.slow
def test_four_processes_load_the_same_uid_with_one_download(publish, server, tmp_path):
    model = publish(width=4096, chunk=4096, chunk_delay=0.05)  # about 1 s of transfer: the loads overlap
    go = tmp_path / "go"
    children = [subprocess.Popen([sys.executable, "-c", CHILD, model.uid, "4096", str(tmp_path / f"ready{i}"), str(go)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
                for i in range(4)]
    _wait_for(lambda: all((tmp_path / f"ready{i}").exists() or children[i].poll() is not None for i in range(4)),
              "the children to start")
    go.touch()
    results = [child.communicate(timeout=300) for child in children]
    for child, (out, err) in zip(children, results):
        assert child.returncode == 0, err
        loaded = json.loads(out.strip().splitlines()[-1])
        assert loaded["dense.weight"] == model.params["dense.weight"].tolist()
        assert loaded["dense.bias"] == model.params["dense.bias"].tolist()
    assert len(server.gets(model.path)) == 1


KILLED = """
import sys
import mindspore_hub as mshub
mshub.download(sys.argv[1])
"""


@pytest.mark.slow
def test_download_killed_mid_way_is_completed_by_the_next_run(publish, server, hub_dir, tmp_path):
    body = random_bytes(3 * MiB)
    model = publish(entry=False, body=body, stall_after=int(2.5 * MiB))
    part = hub_dir / "assets" / model.sha256 / "tiny_a.ckpt.part"
    child = subprocess.Popen([sys.executable, "-c", KILLED, model.uid], cwd=tmp_path,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(lambda: part.exists() and part.stat().st_size >= MiB, "the child to write part of the file")
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    kept = part.stat().st_size
    server.routes[model.path].stall_after = None
    path = Path(mshub.download(model.uid))
    assert path.read_bytes() == body
    assert server.gets(model.path)[-1]["Range"] == f"bytes={kept}-"
    assert mshub.verify(model.uid)


def test_lock_waiters_report_the_holders_progress(publish, server, hub_dir, monkeypatch, caplog):
    model = publish(entry=False, body=random_bytes(1000))
    monkeypatch.setenv("MSHUB_LOCK_TIMEOUT", "1.5")
    monkeypatch.setattr(cache, "LOCK_POLL", 0.1)
    folder = hub_dir / "assets" / model.sha256
    folder.mkdir(parents=True)
    part = folder / "tiny_a.ckpt.part"
    (hub_dir / "locks").mkdir(parents=True)
    with caplog.at_level(logging.WARNING, logger="mindspore_hub"), \
            filelock.FileLock(hub_dir / "locks" / f"{model.sha256}.lock"):  # the holder, writing the part
        part.write_bytes(b"x" * 300)
        with pytest.raises(LockTimeoutError) as caught:
            mshub.download(model.uid)
    assert "another process holds" in caplog.text and "waiting up to 2 s" in caplog.text
    assert f"It has written 300 bytes of {part}" in str(caught.value)


def test_a_soft_lock_left_by_a_holder_on_another_host_names_the_file_to_delete(publish, server, hub_dir,
                                                                                monkeypatch):
    import errno
    import fcntl

    model = publish(entry=False, body=random_bytes(1000))

    def no_flock(descriptor, operation):
        raise OSError(errno.ENOSYS, "flock is not supported on this file system")

    monkeypatch.setattr(fcntl, "flock", no_flock)  # as on some network file systems: filelock's soft fallback
    monkeypatch.setenv("MSHUB_LOCK_TIMEOUT", "0.5")
    lock = hub_dir / "locks" / f"{model.sha256}.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text("4242\nbuild-host-7\n")  # a holder on another machine sharing the cache, dead since
    with pytest.warns(UserWarning, match="flock"), pytest.raises(LockTimeoutError) as caught:
        mshub.download(model.uid)
    message = str(caught.value)
    assert "process 4242 on host build-host-7" in message and f"delete {lock}" in message
    lock.unlink()
    with pytest.warns(UserWarning, match="flock"):
        assert Path(mshub.download(model.uid)).read_bytes() == model.body


def test_offline_force_reload_says_the_cached_copy_is_kept(publish, server, monkeypatch, capsys):
    model = publish(entry=False, body=random_bytes(1000))
    path = Path(mshub.download(model.uid))
    monkeypatch.setenv("MSHUB_OFFLINE", "1")
    assert cli.main(["download", "--force-reload", model.uid]) == 1
    err = capsys.readouterr().err
    assert "not in the cache" not in err and f"the verified copy in the cache at {path} is kept" in err
    assert path.read_bytes() == model.body and len(server.gets(model.path)) == 1


def test_verify_takes_a_uid_as_a_uid_even_beside_a_file_of_that_name(publish, server, tmp_path, monkeypatch):
    model = publish(entry=False, body=random_bytes(1000))
    mshub.download(model.uid)
    planted = tmp_path / "cwd" / model.uid
    planted.parent.mkdir(parents=True)
    planted.write_bytes(b"not the model")
    monkeypatch.chdir(tmp_path / "cwd")
    assert mshub.verify(model.uid) is True
    with pytest.raises(HubError, match="not a checkpoint in the cache"):
        mshub.verify(f"./{model.uid}")
    assert planted.exists()
