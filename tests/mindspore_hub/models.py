"""Tiny hub models for tests: a Dense entry folder, its checkpoint, its markdown, git repositories."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
import tempfile
import textwrap
from pathlib import Path

import numpy as np

ENTRY = '''\
from src.net import TinyNet


def create_network(name, *args, **kwargs):
    if name != {model_name!r}:
        raise ValueError("unknown model " + name)
    return TinyNet(*args, **kwargs)
'''

NET = '''\
from mindspore import nn

SCALE = {scale!r}


def scaled(x):
    return x * SCALE


class TinyNet(nn.Cell):
    def __init__(self, width=3):
        super().__init__()
        self.dense = nn.Dense(4, width)

    def construct(self, x):
        return scaled(self.dense(x))
'''


def write_entry(folder: Path, model_name: str, scale: float = 1.0) -> Path:
    """A folder with hub_conf.py and a `src` package, like a model-zoo entry."""
    (folder / "src").mkdir(parents=True, exist_ok=True)
    (folder / "hub_conf.py").write_text(ENTRY.format(model_name=model_name))
    (folder / "src" / "__init__.py").write_text("")
    (folder / "src" / "net.py").write_text(NET.format(scale=scale))
    return folder


def tiny_params(width: int = 3, seed: int = 0, extras: bool = True) -> dict[str, np.ndarray]:
    """Weights for TinyNet(width), plus optimizer-like entries a training checkpoint carries."""
    rng = np.random.default_rng(seed)
    params = {"dense.weight": rng.standard_normal((width, 4)).astype(np.float32),
              "dense.bias": rng.standard_normal((width,)).astype(np.float32)}
    if extras:
        params["moments.dense.weight"] = np.zeros((width, 4), np.float32)
        params["global_step"] = np.array([7], np.int32)
    return params


@functools.lru_cache(maxsize=None)
def _checkpoint(items: tuple) -> bytes:
    import mindspore as ms

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "w.ckpt"
        ms.save_checkpoint([{"name": name, "data": ms.Tensor(np.frombuffer(raw, dtype).reshape(shape))}
                            for name, raw, dtype, shape in items], str(path))
        return path.read_bytes()


def checkpoint_bytes(params: dict[str, np.ndarray]) -> bytes:
    """The bytes of a MindSpore checkpoint holding `params`."""
    return _checkpoint(tuple((name, array.tobytes(), array.dtype.str, array.shape) for name, array in params.items()))


def random_bytes(size: int, seed: int = 0) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_md(path: Path, model_name: str, asset_link: str, asset_sha256: str,
             repo_link: str = "https://gitee.com/mindspore/models/tree/master/tests/none") -> Path:
    """A hub markdown file with the r1.3-era fields."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(f"""\
        # {model_name}

        ---

        model-name: {model_name}
        backbone-name: {model_name}
        module-type: cv
        fine-tunable: True
        input-shape: [4]
        model-version: v1.0
        train-dataset: synthetic
        accuracy: 1
        author: tests
        update-time: 2026-11-25
        repo-link: <{repo_link}>
        user-id: tests
        used-for: inference
        train-backend: cpu
        infer-backend: cpu
        mindspore-version: v2.8
        asset:

        -
            file-format: ckpt
            asset-link: <{asset_link}>
            asset-sha256: {asset_sha256}

        license: Apache2.0
        summary: a test model

        ---

        ## Introduction

        A test model.
        """))
    return path


def set_repo_link(model, link: str) -> None:
    """Point a published model's markdown at another repo-link."""
    text = model.md.read_text()
    start = text.index("repo-link: <") + len("repo-link: <")
    model.md.write_text(text[:start] + link + text[text.index(">", start):])


def git(folder: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(folder), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                          check=True, capture_output=True, text=True).stdout


def commit_repo(root: Path, branch: str = "main") -> Path:
    """Make the folder `root` a git repository with everything in it committed, servable with --filter."""
    git(root.parent, "init", "-q", "-b", branch, root.name)
    git(root, "config", "uploadpack.allowFilter", "true")  # as gitee and GitHub allow --filter
    git(root, "add", "-A")
    git(root, "commit", "-qm", "first")
    return root


def commit_branches(root: Path, branches: dict) -> Path:
    """A git repository at `root` with one unrelated branch a key of `branches`, each holding what its
    value, a function of the working tree's folder, writes there (the first branch is checked out)."""
    for number, (branch, write) in enumerate(branches.items()):
        if number:
            git(root, "checkout", "-q", "--orphan", branch)
            git(root, "rm", "-rqf", ".")
        write(root)
        if number == 0:
            commit_repo(root, branch)
        else:
            git(root, "add", "-A")
            git(root, "commit", "-qm", branch)
    return root


def rot(path: Path, sha256: str, data: bytes) -> None:
    """Corrupt a cached file below the file system, as a failing disk would: the bytes change and the
    marker still matches the file's identity (size, mtime, ctime, inode)."""
    from mindspore_hub import safefile

    path.write_bytes(data)
    marker = {"sha256": sha256, **safefile.identity(os.lstat(path))}
    path.with_name(path.name + ".verified").write_text(json.dumps(marker))
