"""Helpers for the benchmark scripts: timing, the machine, fixture weights from ../shared."""
import importlib.util
import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SSD_SHARED_DIR", REPO.parent / "shared"))


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def alternating_medians(functions, repeats=5, warmup=1):
    """Median seconds of each function, the calls interleaved (a, b, a, b, ...) so that load
    from other processes hits all of them alike."""
    for function in functions:
        for _ in range(warmup):
            function()
    times = [[] for _ in functions]
    for _ in range(repeats):
        for function, spent in zip(functions, times):
            start = time.perf_counter()
            function()
            spent.append(time.perf_counter() - start)
    return [statistics.median(spent) for spent in times]


def median_seconds(function, repeats=5, warmup=1) -> float:
    return alternating_medians([function], repeats, warmup)[0]


def fixture_checkpoint(path) -> str:
    """Write ../shared/spec's seed-0 stand-in weights to `path` (once) and return it."""
    source = SHARED / "spec" / "fixture_weights.py"
    if not source.exists():
        sys.exit(f"{source} is absent: the benchmarks use the shared fixture weights")
    if not os.path.exists(path):
        spec = importlib.util.spec_from_file_location("fixture_weights", source)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.save_checkpoint(str(path), 0)
    return str(path)
