"""Upstream mindspore_hub's own unit tests (branches master and r1.3), unedited, against this package.

They run with pytest in a subprocess, from a copy laid out as they expect (``tests/ut`` beside
``mshub_res/assets``), against `GeneratedHub` on 127.0.0.1. The subprocess is given only our own
settings (MSHUB_MIRRORS, MSHUB_DIR): that they reach every host upstream's code names (gitee's raw
files and git repositories, download.mindspore.cn) is itself under test. Anything else would go to
a closed proxy port, and a conftest beside the copy refuses sockets to other hosts.

``test.py`` fails on upstream itself; only its meaningful cases run (`MEANINGFUL`). Not run:
``test_download_ckpt``, ``test_download_repo_of_dir`` and ``test_auto_rename`` build
``CellInfo("googlenet")`` from a model name and then call ``update(md)``, which upstream's current
CellInfo (a markdown path) does not accept; master's ``test_load_weights_input_*`` call
``load_weights(net)`` without naming the model.
"""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ElementTree

import pytest

from tests.mindspore_hub.upstream_hub import PYTHON, UPSTREAM, GeneratedHub, copy_suite
from tests.shared_files import shared_path

SUITES = {"master": ("tests_master", "cards_master"), "r1.3": ("tests_r1.3", "cards_r1.3")}
FILES = ("test_load.py", "test_list.py", "test_validator_md.py")
MEANINGFUL = {
    "master": ("test_check_md", "test_check_md_of_dir", "test_check_all_md_of_dir", "test_download_repo"),
    "r1.3": ("test_check_md", "test_check_md_of_dir", "test_check_all_md_of_dir", "test_download_repo",
             "test_load_weights_input_uid", "test_load_weights_input_url"),
}
TRUSTED = ("https://gitee.com/mindspore/models", "https://gitee.com/mindspore/mindspore")

LOOPBACK_ONLY = '''\
"""Added beside upstream's copied tests: no socket leaves 127.0.0.1."""
import ipaddress
import socket

_connect = socket.socket.connect


def _loopback_only(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            raise OSError("upstream's tests run against 127.0.0.1 only (tried %s)" % host)
    return _connect(self, address)


socket.socket.connect = _loopback_only
'''


def _outcomes(report) -> dict[str, str]:
    """{file::name: passed|failed|skipped} from a junit XML report."""
    outcomes = {}
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        module = case.get("classname", "").replace("tests.ut.", "").split(".")[0]
        state = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                state = "failed"
            elif child.tag == "skipped":
                state = "skipped"
        outcomes[f"{module}.py::{case.get('name')}"] = state
    return outcomes


@pytest.mark.parametrize("branch", sorted(SUITES))
def test_upstream_unit_tests_pass_unedited(branch, tmp_path, server):
    shared_path("upstream_hub")
    tests_folder, cards = SUITES[branch]
    suite = tmp_path / "suite"
    tests = copy_suite(tests_folder, cards, suite)
    if branch == "master":
        (suite / "mshub_res" / "assets" / "mindspore" / "2.5").mkdir(exist_ok=True)  # listed by its validator test
    (suite / "conftest.py").write_text(LOOPBACK_ONLY)
    hub = GeneratedHub(tmp_path / "generated", server)
    env = hub.environment(tmp_path / "hub")
    subprocess.run([PYTHON, "-m", "mindspore_hub.cli", "trust", *TRUSTED], env=env, check=True,
                   capture_output=True, timeout=120)

    files = [f"ut/{name}" for name in FILES if (UPSTREAM / tests_folder / "ut" / name).is_file()]
    cases = files + [f"ut/test.py::{name}" for name in MEANINGFUL[branch]]
    report = tmp_path / "report.xml"
    done = subprocess.run([PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(suite),
                           f"--junitxml={report}", *cases],
                          cwd=tests, env=env, capture_output=True, text=True, timeout=900)
    outcomes = _outcomes(report)
    expected = {"test_load.py::test_load", "test_load.py::test_load_name", "test_load.py::test_load_type",
                "test_validator_md.py::test_validate_md", *(f"test.py::{name}" for name in MEANINGFUL[branch])}
    if branch == "master":
        expected.add("test_list.py::test_hub_list")
    assert set(outcomes) == expected, outcomes
    assert done.returncode == 0 and set(outcomes.values()) == {"passed"}, done.stdout[-6000:] + done.stderr[-3000:]
    assert server.gets("/dl/models/r1.6/lenet_ascend_v160_mnist_official_cv_acc98.49.ckpt" if branch == "master"
                       else "/dl/model_zoo/official/cv/lenet/lenet_ascend_0.5.0_mnist_official_classification_20200716/"
                            "lenet.ckpt"), "the checkpoint was not fetched from the generated hub"
    if branch == "r1.3":  # no r0.7 branch: the uid was routed to r1.3, learned from the index repository
        assert server.gets("/hub/raw/r1.3/mshub_res/assets/mindspore/ascend/0.7/lenet_v1_mnist.md")
