"""The MindSpore versions ssd_resnet50 works with, checked when it is imported, and the one
warning that versions with slow x86-64 CPU convolutions deserve when MindSpore is about to
compute on the CPU.

pip keeps the range of setup.cfg's install_requires (tests check that both agree), but a
`--no-deps` install, a conda environment or a source build can bring any MindSpore: this module
says so at import, with the fix, instead of failing later in some operator.

    >>> require_supported_mindspore()        # raises MindSporeVersionError outside SUPPORTED
    >>> warn_if_slow_cpu_convolutions("training")   # logs once on 2.9/2.10 on an AVX-512 CPU
"""
import importlib.metadata
import importlib.util
import logging
import os
import platform
from typing import Optional

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

log = logging.getLogger(__name__)

# Tested on Python 3.11 (a venv per version, NumPy 1.26): 2.7.0 has no mindspore.onnx (ONNX export
# and the onnxruntime backend fail); no 2.11 existed to test.
RANGE = ">=2.7.1,<2.11"
SUPPORTED = SpecifierSet(RANGE)
CPU_BUILD = "2.8.0"  # the fastest on x86-64 CPUs: the [cpu] extra pins it
# oneDNN 3.10 in these versions runs convolutions with its reference kernel on AVX-512 CPUs.
SLOW_CPU_CONVOLUTIONS = SpecifierSet(">=2.9,<2.11")
ISA_VARIABLES = ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA")  # oneDNN reads either, once, at its first use
ALLOW_ENV = "SSD_RESNET50_ANY_MINDSPORE"  # "1": an untested MindSpore gets a warning, not an error

_warned = set()  # the (version, task) pairs warned about in this process


class MindSporeVersionError(ImportError):
    """The MindSpore installed is missing or outside SUPPORTED; the message says how to fix it."""


def installed_mindspore_version() -> Optional[str]:
    """The installed MindSpore's version, from its package metadata (MindSpore is not imported
    when it has some), or None when there is none."""
    try:
        return importlib.metadata.version("mindspore")
    except importlib.metadata.PackageNotFoundError:
        pass
    if importlib.util.find_spec("mindspore") is None:
        return None
    import mindspore  # a build without package metadata

    return mindspore.__version__


def _fix_command() -> str:
    return (f'pip install "mindspore{RANGE}" (on an x86-64 CPU the fastest is pip install '
            f'"mindspore=={CPU_BUILD}"; on Ascend or GPU, the MindSpore build for your driver in that range)')


def require_supported_mindspore(version: Optional[str] = None, environ=None) -> str:
    """Raise MindSporeVersionError unless MindSpore (`version`, default: the installed one) is in
    SUPPORTED; with SSD_RESNET50_ANY_MINDSPORE=1 an out-of-range version only logs a warning.
    Returns the version."""
    environ = os.environ if environ is None else environ
    version = installed_mindspore_version() if version is None else version
    if version is None:
        raise MindSporeVersionError(f"ssd_resnet50 needs MindSpore {RANGE}, and none is installed. "
                                    f"Fix: {_fix_command()}")
    try:
        supported = SUPPORTED.contains(Version(version), prereleases=True)
    except InvalidVersion:
        supported = False
    if not supported:
        message = (f"ssd_resnet50 needs MindSpore {RANGE} (the versions tested); found MindSpore {version}. "
                   f"Fix: {_fix_command()}")
        if environ.get(ALLOW_ENV) != "1":
            raise MindSporeVersionError(f"{message}; or set {ALLOW_ENV}=1 to try this one anyway")
        log.warning("%s (%s=1: going on untested)", message, ALLOW_ENV)
    return version


def _has_avx512(cpuinfo="/proc/cpuinfo") -> bool:
    """Whether the CPU has AVX-512 (True when it cannot be told: better a needless warning)."""
    try:
        with open(cpuinfo) as file:
            return any(line.startswith("flags") and " avx512f" in line for line in file)
    except OSError:
        return True


def slow_cpu_convolutions(version: Optional[str] = None, environ=None) -> bool:
    """Whether MindSpore `version` (default: the installed one) would run convolutions on this
    CPU with oneDNN's reference kernel: 2.9 and 2.10 on an x86-64 CPU with AVX-512, unless the
    environment caps oneDNN's instruction set already (ONEDNN_MAX_CPU_ISA)."""
    environ = os.environ if environ is None else environ
    version = installed_mindspore_version() if version is None else version
    if version is None or platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    if any(environ.get(name) for name in ISA_VARIABLES):
        return False
    try:
        slow = SLOW_CPU_CONVOLUTIONS.contains(Version(version), prereleases=True)
    except InvalidVersion:
        return False
    return slow and _has_avx512()


def warn_if_slow_cpu_convolutions(task: str, device: Optional[str] = None, version: Optional[str] = None) -> bool:
    """Log one warning per process and task when MindSpore is about to compute `task` (say
    "training") on the CPU with slow convolutions (see `slow_cpu_convolutions`). `device` is
    MindSpore's device target (default: the current context's). Returns whether it warned."""
    if device is None:
        import mindspore as ms

        device = ms.get_context("device_target")
    version = installed_mindspore_version() if version is None else version
    if device != "CPU" or (version, task) in _warned or not slow_cpu_convolutions(version):
        return False
    _warned.add((version, task))
    log.warning(
        "%s runs on the CPU with MindSpore %s, whose x86-64 convolutions fall back to oneDNN's reference "
        "kernel on this AVX-512 CPU: measured about 60 times slower than MindSpore %s (a 640x640 image: "
        "about 40 s instead of 0.7 s). Fix, any one: start the process with ONEDNN_MAX_CPU_ISA=AVX2 in its "
        "environment (measured: %s's speed, outputs within 1e-6); pip install \"mindspore==%s\"; or, for "
        "inference, another CPU backend (backend=\"onnxruntime\": pip install onnxruntime).",
        task, version, CPU_BUILD, CPU_BUILD, CPU_BUILD)
    return True
