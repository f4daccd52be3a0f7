"""A small generated copy of upstream's hub on 127.0.0.1, for running upstream's own unit tests.

It serves what those tests reach, under the paths of the real hosts (reached through the loader's
own MSHUB_MIRRORS, see `GeneratedHub.environment`):

- gitee's raw files of the index repository ``mindspore/hub`` (``/hub/raw/<branch>/mshub_res/assets/...``)
  on branches master, r1.3 and r1.8, holding the cards the tests name (read from
  ``../shared/upstream_hub/cards_*``), their asset-sha256 replaced by that of a generated checkpoint;
- that index repository itself over git (``/git/hub``), from which branches and listings are learned;
- the model-zoo repositories ``mindspore/models`` and ``mindspore/mindspore`` over git, each folder the
  cards' repo-links or the tests name holding a LeNet-like entry (``mindspore_hub_conf.py``);
- download.mindspore.cn's checkpoints (``/dl/...``), one per card, fitting that entry's network.

Branch r1.3 also gets ``mindspore/ascend/1.0/googlenet_v1_cifar10``, which r1.3's test.py names and
upstream's r1.3 does not have: the gpu card with its backend changed. There is no ``r0.7`` or ``r1.0``
branch, as on the real hub, so those uids are found only by learning the branches.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from tests.mindspore_hub.hubserver import HubServer
from tests.mindspore_hub.models import checkpoint_bytes, commit_branches, sha256
from tests.shared_files import SHARED

UPSTREAM = SHARED / "upstream_hub"
ASSETS = "mshub_res/assets"

ENTRY = '''\
from src.lenet import LeNetLike


def create_network(name, *args, **kwargs):
    if name not in ("lenet", "googlenet"):
        raise ValueError("this test entry builds lenet and googlenet, not " + name)
    return LeNetLike(*args, **kwargs)
'''

NET = '''\
from mindspore import nn


class LeNetLike(nn.Cell):
    """LeNet's layers, smaller: two 5x5 convolutions with pooling, then three dense layers."""

    def __init__(self, num_class=10, num_channel=1):
        super().__init__()
        self.conv1 = nn.Conv2d(num_channel, 4, 5, pad_mode="valid")
        self.conv2 = nn.Conv2d(4, 8, 5, pad_mode="valid")
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(kernel_size=2, stride=2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Dense(8 * 5 * 5, 32)
        self.fc2 = nn.Dense(32, 16)
        self.fc3 = nn.Dense(16, num_class)

    def construct(self, x):
        x = self.pool(self.relu(self.conv1(x)))
        x = self.pool(self.relu(self.conv2(x)))
        x = self.flatten(x)
        return self.fc3(self.relu(self.fc2(self.relu(self.fc1(x)))))
'''

# Every folder a card's repo-link or a test names, by repository and branch.
CODE = {
    "models": {"master": ["official/cv/lenet", "official/cv/googlenet", "research/cv/googlenet"],
               "r1.3": ["official/cv/googlenet"], "r1.6": ["official/cv/lenet"]},
    "mindspore": {"master": ["model_zoo/official/cv/googlenet", "model_zoo/official/cv/lenet"]},
}
BRANCHES = {"master": "cards_master", "r1.3": "cards_r1.3", "r1.8": "cards_master"}
EXTRA_ON_MASTER = "mindspore/ascend/0.7/lenet_v1_mnist.md"  # r1.3's test_load names it by a master URL
MADE_UP = ("mindspore/gpu/1.0/googlenet_v1_cifar10.md", "mindspore/ascend/1.0/googlenet_v1_cifar10.md")


def lenet_params(num_class: int = 10, seed: int = 0) -> dict[str, np.ndarray]:
    """Weights for LeNetLike(num_class)."""
    rng = np.random.default_rng(seed)
    shapes = {"conv1.weight": (4, 1, 5, 5), "conv2.weight": (8, 4, 5, 5), "fc1.weight": (32, 200),
              "fc1.bias": (32,), "fc2.weight": (16, 32), "fc2.bias": (16,), "fc3.weight": (num_class, 16),
              "fc3.bias": (num_class,)}
    return {name: rng.standard_normal(shape).astype(np.float32) * 0.1 for name, shape in shapes.items()}


def write_lenet_entry(folder: Path) -> None:
    (folder / "src").mkdir(parents=True, exist_ok=True)
    (folder / "mindspore_hub_conf.py").write_text(ENTRY)
    (folder / "src" / "__init__.py").write_text("")
    (folder / "src" / "lenet.py").write_text(NET)


class GeneratedHub:
    """Build under `root`, serve with `server` (a started `HubServer`); `cards` maps branch -> {uid: text}."""

    def __init__(self, root: Path, server: HubServer):
        self.root, self.server = root, server
        self.git_root = root / "git"
        self.checkpoints: dict[str, bytes] = {}  # asset path on download.mindspore.cn -> bytes
        self.cards: dict[str, dict[str, str]] = {}
        for seed, (branch, folder) in enumerate(BRANCHES.items()):
            self.cards[branch] = self._cards(UPSTREAM / folder, seed)
        self.cards["master"][EXTRA_ON_MASTER[:-3]] = self.cards["r1.3"][EXTRA_ON_MASTER[:-3]]
        gpu, ascend = (name[:-3] for name in MADE_UP)
        self.cards["r1.3"][ascend] = re.sub(r"(train|infer)-backend: gpu", r"\1-backend: ascend",
                                            self.cards["r1.3"][gpu]).replace(gpu, ascend)
        self._serve()

    def _cards(self, folder: Path, seed: int) -> dict[str, str]:
        """{uid: card text} of a shared cards folder, each asset given a generated checkpoint."""
        cards = {}
        for path in sorted(folder.rglob("*.md")):
            uid = path.relative_to(folder).with_suffix("").as_posix()
            text = path.read_text(encoding="utf-8")
            link = urlparse(re.search(r"asset-link:\s*<([^>]+)>", text).group(1)).path
            body = self.checkpoints.setdefault(link, checkpoint_bytes(lenet_params(10, seed * 10 + len(cards))))
            text = re.sub(r"asset-sha256:\s*[0-9a-f]{64}", f"asset-sha256: {sha256(body)}", text)
            cards[uid] = text
        return cards

    def _serve(self) -> None:
        def cards_of(branch):
            def write(root):
                for uid, text in self.cards[branch].items():
                    target = root / ASSETS / f"{uid}.md"
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_text(text, encoding="utf-8")
                    self.server.add(f"/hub/raw/{branch}/{ASSETS}/{uid}.md", text.encode(), content_type="text/plain")
            return write

        def entries_in(folders):
            return lambda root: [write_lenet_entry(root / folder) for folder in folders]

        hub = commit_branches(self.git_root / "hub", {branch: cards_of(branch) for branch in self.cards})
        for name, branches in CODE.items():
            commit_branches(self.git_root / name, {branch: entries_in(folders) for branch, folders in branches.items()})
        self.server.add_git(hub)  # every repository below git_root is served
        for path, body in self.checkpoints.items():
            self.server.add(f"/dl{path}", body)

    def mirrors(self) -> str:
        """MSHUB_MIRRORS sending every host the loader and upstream's tests talk to to this server."""
        base = self.server.url("")
        return ",".join([
            f"https://gitee.com/mindspore/hub/raw={base}/hub/raw",
            f"https://gitee.com/mindspore/hub.git={base}/git/hub",
            f"https://gitee.com/mindspore/models={base}/git/models",
            f"https://gitee.com/mindspore/mindspore={base}/git/mindspore",
            f"https://download.mindspore.cn={base}/dl",
        ])

    def environment(self, hub_dir: Path) -> dict[str, str]:
        """The environment of a process that uses this hub: our own settings only, nothing else leaves 127.0.0.1."""
        env = {key: value for key, value in os.environ.items() if not key.startswith("MSHUB_")}
        env.update(MSHUB_DIR=str(hub_dir), MSHUB_MIRRORS=self.mirrors(), MSHUB_NO_PROGRESS="1",
                   MSHUB_RETRIES="1", MSHUB_TIMEOUT="10", MSHUB_UPSTREAM_CACHE="",
                   # anything not mirrored would go to a closed port (requests and git honour these)
                   https_proxy="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9",
                   http_proxy="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9",
                   no_proxy="127.0.0.1,localhost", NO_PROXY="127.0.0.1,localhost")
        return env


def copy_suite(branch_folder: str, cards_folder: str, dest: Path) -> Path:
    """Upstream's tests of one branch, unedited, at ``dest/tests`` beside ``dest/mshub_res/assets`` (its cards),
    the layout they expect; returns ``dest/tests``."""
    shutil.copytree(UPSTREAM / branch_folder, dest / "tests")
    shutil.copytree(UPSTREAM / cards_folder, dest / ASSETS)
    return dest / "tests"


PYTHON = sys.executable
