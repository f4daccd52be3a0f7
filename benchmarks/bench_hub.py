"""How much mindspore_hub's safety costs: prints figures, asserts nothing.

1. Download + verify of a ~300 MB checkpoint from a loopback HTTP server (another process),
   beside a raw streamed copy of the same bytes from the same server (target ratio >= 0.9).
2. Warm ``mshub.load(uid)`` beside building the same network and calling bare
   ``load_checkpoint`` + ``load_param_into_net`` on the same file (target overhead <= 5%).
   The warm load re-hashes the whole checkpoint every time (on a worker thread, while the
   network is built and the file parsed), so this overhead includes the hash; the sha256 of
   the file alone is printed beside it, to show how much of it the overlap hides.

    python benchmarks/bench_hub.py [--mb 300] [--repeat 5]

How the download comparison is kept honest:

* One server for both: ``python -m http.server`` in its own process, serving the one file the
  same way to both clients (64 KiB reads + sendall). A ``socket.sendfile`` server was tried:
  on the 2-core development machine it made the raw copy slower (0.100 s against 0.071 s for
  300 MB) and the download no faster, so the stock server is the stricter baseline.
* The raw copy reads the way the downloader reads: a requests stream,
  ``response.raw.read1(download.CHUNK)`` undecoded (no Content-Encoding is sent) into a file
  opened the same way (``iter_content(download.CHUNK)`` measured the same, within noise). It
  leaves out what is being costed: the sha256, the ``.part``/rename, the lock and the marker.
* Each round runs both, alternating which goes first; output files are deleted outside the
  timed region. Medians are the headline figures (best of N beside them), and the load
  average is printed before and after, because on a shared machine other jobs move every
  figure.
* sha256 cannot be split across cores (each block depends on the previous one), so a
  download can never finish faster than the hash of its bytes: the script prints that
  ceiling, raw copy / sha256 alone, beside the measured ratio.

Everything is generated in a temporary directory and deleted afterwards.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import importlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.mindspore_hub.models import write_md  # noqa: E402  (one hub markdown template for both)

ENTRY = """\
from mindspore import nn


class Big(nn.Cell):
    def __init__(self, rows, cols):
        super().__init__()
        self.dense = nn.Dense(cols, rows, weight_init="zeros")

    def construct(self, x):
        return self.dense(x)


def create_network(name, rows={rows}, cols={cols}):
    return Big(rows, cols)
"""

def make_checkpoint(path: Path, megabytes: int) -> tuple[int, int]:
    """A checkpoint of one Dense layer of about `megabytes` MB; returns (rows, cols)."""
    import mindspore as ms

    cols = 4096
    rows = max(1, megabytes * 1_000_000 // (4 * cols))
    weight = np.random.default_rng(0).standard_normal((rows, cols), dtype=np.float32)
    bias = np.zeros(rows, np.float32)
    ms.save_checkpoint([{"name": "dense.weight", "data": ms.Tensor(weight)},
                        {"name": "dense.bias", "data": ms.Tensor(bias)}], str(path))
    return rows, cols


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(folder: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                                "--directory", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            requests.head(base + "/", timeout=1)
            return process, base
        except requests.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError("the benchmark server did not start")


def raw_copy(url: str, dest: Path, chunk_size: int) -> float:
    """The baseline: the downloader's request and read loop, with nothing else."""
    start = time.perf_counter()
    with requests.get(url, stream=True, timeout=60, headers={"Accept-Encoding": "identity"}) as response, \
            open(dest, "wb") as out:
        response.raise_for_status()
        read = response.raw.read1
        while chunk := read(chunk_size, decode_content=False):
            out.write(chunk)
    elapsed = time.perf_counter() - start
    dest.unlink()
    return elapsed


def hash_alone(data: bytes, chunk_size: int) -> float:
    """sha256 of bytes already in memory, in the downloader's chunk size: the floor of a download."""
    view = memoryview(data)
    start = time.perf_counter()
    sha = hashlib.sha256()
    for offset in range(0, len(view), chunk_size):
        sha.update(view[offset:offset + chunk_size])
    sha.hexdigest()
    return time.perf_counter() - start


def hub_download(mshub, uid: str, hub: Path) -> float:
    shutil.rmtree(hub, ignore_errors=True)
    mshub.set_hub_dir(hub)
    start = time.perf_counter()
    mshub.download(uid)
    return time.perf_counter() - start


def summary(label: str, times: list[float], size: int | None = None) -> str:
    best, median = min(times), statistics.median(times)
    rate = f"  ({size / median / 1e6:7.1f} MB/s median)" if size else ""
    return f"{label:<44} median {median:7.3f} s  best {best:7.3f} s{rate}"


def load() -> str:
    return "load average " + " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=300, help="checkpoint size in MB (default 300)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench_hub_"))
    os.environ.update({"MSHUB_NO_PROGRESS": "1", "MSHUB_RES_DIRS": str(work / "res"),
                       "MSHUB_INDEX_URL": "http://127.0.0.1:9/{branch}/{uid}.md"})
    import mindspore as ms
    import mindspore_hub as mshub
    from mindspore_hub import hashes

    chunk_size = importlib.import_module("mindspore_hub.download").CHUNK  # mshub.download is the function

    server = None
    try:
        files = work / "files"
        files.mkdir()
        ckpt = files / "big.ckpt"
        rows, cols = make_checkpoint(ckpt, args.mb)
        size = ckpt.stat().st_size
        digest = hashes.file_sha256(ckpt)
        server, base = start_server(files)
        folder = work / "res" / "assets" / "bench" / "cpu" / "1.0"
        folder.mkdir(parents=True)
        write_md(folder / "bench_big.md", "bench_big", f"{base}/big.ckpt", digest)
        (folder / "hub_conf.py").write_text(ENTRY.format(rows=rows, cols=cols))
        uid = "bench/cpu/1.0/bench_big"
        print(f"checkpoint: {size / 1e6:.1f} MB, {rows}x{cols} Dense; {os.cpu_count()} CPUs; "
              f"MindSpore {ms.__version__}")

        print(f"before: {load()}")
        raw, ours = [], []
        for round_ in range(args.repeat + 1):  # round 0 warms the page cache and is not counted
            if round_ % 2:  # alternate which goes first
                ours_time = hub_download(mshub, uid, work / "hub")
                raw_time = raw_copy(f"{base}/big.ckpt", work / "raw.ckpt", chunk_size)
            else:
                raw_time = raw_copy(f"{base}/big.ckpt", work / "raw.ckpt", chunk_size)
                ours_time = hub_download(mshub, uid, work / "hub")
            if round_:
                raw.append(raw_time)
                ours.append(ours_time)
        data = ckpt.read_bytes()
        alone = [hash_alone(data, chunk_size) for _ in range(args.repeat)]
        del data
        rehash = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            hashes.file_sha256(ckpt)
            rehash.append(time.perf_counter() - start)
        print(summary("sha256 alone (bytes in memory)", alone, size))
        print(summary("sha256 of the file (a re-hash, `verify`)", rehash, size))
        print(summary("raw streamed copy (requests, no hash)", raw, size))
        print(summary("mshub.download (stream + sha256 + rename)", ours, size))
        median = statistics.median
        print(f"throughput ratio (raw / hub): {median(raw) / median(ours):.2f}x median, "
              f"{min(raw) / min(ours):.2f}x best   (target >= 0.90)")
        print(f"ceiling if a download cost only its hash (raw / sha256 alone): "
              f"{median(raw) / median(alone):.2f}x median")
        print(f"after: {load()}")

        local = Path(mshub.download(uid))
        entry = mshub.info(uid)
        sys.path.insert(0, str(folder))
        import hub_conf

        def bare_load():
            network = hub_conf.create_network(entry.model_name)
            ms.load_param_into_net(network, ms.load_checkpoint(str(local)))
            return network

        def timed(load) -> float:
            gc.collect()
            start = time.perf_counter()
            network = load()
            elapsed = time.perf_counter() - start
            del network
            return elapsed

        bare, warm = [], []
        for round_ in range(args.repeat + 1):  # round 0 is a warm-up and is not counted
            if round_ % 2:  # alternate which goes first
                bare_time = timed(bare_load)
                warm_time = timed(lambda: mshub.load(uid))
            else:
                warm_time = timed(lambda: mshub.load(uid))
                bare_time = timed(bare_load)
            if round_:
                bare.append(bare_time)
                warm.append(warm_time)
        print(summary("bare create + load_checkpoint + load_param", bare))
        print(summary("warm mshub.load(uid) (re-hashes the file)", warm))
        print(f"sha256 of the file alone, for scale: {statistics.median(rehash) / statistics.median(bare):.1%} "
              "of the bare load")
        print(f"warm load overhead: {min(warm) / min(bare) - 1:+.1%} best, "
              f"{statistics.median(warm) / statistics.median(bare) - 1:+.1%} median   (target <= +5%)")
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
