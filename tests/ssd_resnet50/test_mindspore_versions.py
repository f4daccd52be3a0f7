"""The MindSpore range: the same in setup.cfg and in the import check, a clear error outside it,
and the slow-convolution warning on 2.9/2.10 exactly where MindSpore computes on the CPU."""
import configparser
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from ssd_resnet50 import mindspore_versions
from ssd_resnet50.mindspore_versions import (ALLOW_ENV, CPU_BUILD, RANGE, SUPPORTED, MindSporeVersionError,
                                             require_supported_mindspore, slow_cpu_convolutions,
                                             warn_if_slow_cpu_convolutions)

REPO = Path(__file__).resolve().parents[2]
LOGGER = "ssd_resnet50.mindspore_versions"


def setup_cfg():
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    return config


def requirements(text):
    lines = (line.strip() for line in text.splitlines())
    return [Requirement(line) for line in lines if line and not line.startswith("#")]


def test_setup_cfg_installs_the_range_the_import_check_accepts():
    config = setup_cfg()
    [mindspore] = [r for r in requirements(config["options"]["install_requires"]) if r.name == "mindspore"]
    assert mindspore.specifier == SUPPORTED
    [pin] = [r for r in requirements(config["options.extras_require"]["cpu"]) if r.name == "mindspore"]
    assert pin.specifier == SpecifierSet(f"=={CPU_BUILD}") and CPU_BUILD in SUPPORTED
    assert {r.name for r in requirements(config["options.extras_require"]["cpu"])} >= {"onnxruntime"}
    python = SpecifierSet(config["options"]["python_requires"])
    assert {"3.10", "3.11", "3.12"} <= set(python.filter(["3.9", "3.10", "3.11", "3.12", "3.13"]))
    assert not python.contains("3.13") and not python.contains("3.9")  # no MindSpore wheel / not supported


def test_ci_compatibility_job_runs_both_ends_of_the_range():
    script = (REPO / ".ci" / "run").read_text()
    oldest, newest = (Version(re.search(rf"^MINDSPORE_{end}=(\S+)$", script, re.M).group(1))
                      for end in ("OLDEST", "NEWEST"))
    [lower] = [Version(s.version) for s in SUPPORTED if s.operator == ">="]
    [upper] = [Version(s.version) for s in SUPPORTED if s.operator == "<"]
    assert oldest == lower and newest in SUPPORTED
    assert newest.release[:2] == (upper.major, upper.minor - 1)  # the last minor release below the bound
    tests = re.search(r"^COMPATIBILITY_TESTS=\((.*?)\)", script, re.M | re.S).group(1).split()
    assert tests and all((REPO / path).exists() for path in tests)


def test_the_installed_mindspore_is_in_range():
    version = require_supported_mindspore()
    import mindspore

    assert version == mindspore.__version__


@pytest.mark.parametrize("version", ["2.7.1", "2.7.1.post1", "2.7.2", "2.8.0", "2.9.0", "2.10.0", "2.10.1rc1"])
def test_versions_in_range_pass(version):
    assert require_supported_mindspore(version, environ={}) == version


@pytest.mark.parametrize("version", ["2.6.0", "2.7.0", "2.11.0", "3.0.0", "1.10.1", "not-a-version"])
def test_a_version_outside_the_range_is_an_error_naming_it_and_the_fix(version):
    with pytest.raises(MindSporeVersionError) as caught:
        require_supported_mindspore(version, environ={})
    message = str(caught.value)
    assert f"found MindSpore {version}" in message and RANGE in message
    assert f'pip install "mindspore{RANGE}"' in message and f'pip install "mindspore=={CPU_BUILD}"' in message
    assert ALLOW_ENV in message
    assert isinstance(caught.value, ImportError)  # `import ssd_resnet50` fails as an import does


def test_a_missing_mindspore_is_an_error_naming_the_fix(monkeypatch):
    monkeypatch.setattr(mindspore_versions, "installed_mindspore_version", lambda: None)
    with pytest.raises(MindSporeVersionError, match="none is installed") as caught:
        require_supported_mindspore(environ={})
    assert f'pip install "mindspore{RANGE}"' in str(caught.value)


def test_the_override_turns_the_error_into_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert require_supported_mindspore("2.11.0", environ={ALLOW_ENV: "1"}) == "2.11.0"
    assert "found MindSpore 2.11.0" in caplog.text and "untested" in caplog.text


def test_import_fails_before_mindspore_loads_when_the_installed_one_is_out_of_range(tmp_path):
    """A real `import ssd_resnet50` in a fresh interpreter that sees MindSpore 2.6.0's package
    metadata first on its path (as a --no-deps install beside an old MindSpore would)."""
    info = tmp_path / "mindspore-2.6.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mindspore\nVersion: 2.6.0\n")
    environ = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])))
    environ.pop(ALLOW_ENV, None)
    code = "import sys\ntry:\n    import ssd_resnet50\nfinally:\n    print('mindspore' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], env=environ, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "MindSporeVersionError" in done.stderr and "found MindSpore 2.6.0" in done.stderr
    assert f'pip install "mindspore{RANGE}"' in done.stderr
    assert done.stdout.strip() == "False"  # the check ran before anything imported MindSpore


@pytest.fixture
def slow_machine(monkeypatch):
    """An AVX-512 x86-64 machine without an oneDNN cap, and no warning given yet."""
    monkeypatch.setattr(mindspore_versions.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(mindspore_versions, "_has_avx512", lambda: True)
    for name in mindspore_versions.ISA_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(mindspore_versions, "_warned", set())


def slow_warnings(caplog):
    return [r for r in caplog.records if r.name == LOGGER and "reference kernel" in r.getMessage()]


def test_the_slow_convolution_warning_names_version_cost_and_fixes_once(slow_machine, caplog):
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert warn_if_slow_cpu_convolutions("training", device="CPU", version="2.10.0")
        assert not warn_if_slow_cpu_convolutions("training", device="CPU", version="2.10.0")  # once
    [record] = slow_warnings(caplog)
    message = record.getMessage()
    assert message.startswith("training runs on the CPU with MindSpore 2.10.0")
    assert "60 times slower" in message and "ONEDNN_MAX_CPU_ISA=AVX2" in message
    assert f'pip install "mindspore=={CPU_BUILD}"' in message and 'backend="onnxruntime"' in message


@pytest.mark.parametrize("version, device, machine, environ, slow", [
    ("2.9.0", "CPU", "x86_64", {}, True),
    ("2.10.0", "CPU", "AMD64", {}, True),
    ("2.8.0", "CPU", "x86_64", {}, False),
    ("2.7.2", "CPU", "x86_64", {}, False),
    ("2.10.0", "Ascend", "x86_64", {}, False),  # MindSpore computes on the device
    ("2.10.0", "CPU", "aarch64", {}, False),
    ("2.10.0", "CPU", "x86_64", {"ONEDNN_MAX_CPU_ISA": "AVX2"}, False),  # the user chose already
    ("2.10.0", "CPU", "x86_64", {"DNNL_MAX_CPU_ISA": "ALL"}, False),
])
def test_the_warning_only_where_convolutions_are_slow(slow_machine, monkeypatch, caplog, version, device, machine,
                                                      environ, slow):
    monkeypatch.setattr(mindspore_versions.platform, "machine", lambda: machine)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert warn_if_slow_cpu_convolutions("training", device=device, version=version) is slow
    assert len(slow_warnings(caplog)) == int(slow)


def test_avx512_is_read_from_the_cpu_flags(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 fma\n")
    assert not mindspore_versions._has_avx512(str(cpuinfo))
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512bw\n")
    assert mindspore_versions._has_avx512(str(cpuinfo))
    assert mindspore_versions._has_avx512(str(tmp_path / "absent"))  # unknown: warn rather than not
    assert not slow_cpu_convolutions("2.10.0", environ={"ONEDNN_MAX_CPU_ISA": "AVX2"})


def test_the_mindspore_backend_on_the_cpu_warns_on_a_slow_version(slow_machine, monkeypatch, caplog,
                                                                  fixture_network):
    from ssd_resnet50.inference.detector import Detector

    monkeypatch.setattr(mindspore_versions, "installed_mindspore_version", lambda: "2.10.0")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        Detector(fixture_network, backend="mindspore")
    [record] = slow_warnings(caplog)
    assert 'inference with backend="mindspore" runs on the CPU with MindSpore 2.10.0' in record.getMessage()


def test_training_on_the_cpu_warns_on_a_slow_version(slow_machine, monkeypatch, caplog, tmp_path):
    from ssd_resnet50.training.loop import TrainOptions, train

    monkeypatch.setattr(mindspore_versions, "installed_mindspore_version", lambda: "2.9.0")
    options = TrainOptions(str(tmp_path / "absent.json"), str(tmp_path), out=str(tmp_path / "run"))
    with caplog.at_level(logging.WARNING, logger=LOGGER), pytest.raises(OSError):
        train(options)  # the warning comes first; the missing annotations then stop the run
    [record] = slow_warnings(caplog)
    assert record.getMessage().startswith("training runs on the CPU with MindSpore 2.9.0")


def test_auto_never_picks_mindspore_for_cpu_inference_on_a_slow_version(slow_machine, monkeypatch):
    pytest.importorskip("onnxruntime", reason="auto has no other CPU backend to pick without onnxruntime")
    import mindspore as ms

    from ssd_resnet50.backends import factory

    if ms.get_context("device_target") != "CPU":
        pytest.skip("MindSpore's device is not the CPU here")
    monkeypatch.setattr(mindspore_versions, "installed_mindspore_version", lambda: "2.10.0")
    built = []  # which engine auto builds (recorded instead of exporting a model)
    monkeypatch.setattr(factory, "_build", lambda name, *args: built.append(name) or name)
    assert factory._auto(None, "fp32", {}) != "mindspore"
    assert built and "mindspore" not in built
