"""Serving throughput and latency beside the in-process Detector, in one run.

    python benchmarks/bench_serve.py [--requests 32] [--max-batch-size 4] [--backend auto] [--image-size 640]

Starts `ssd-resnet50 serve` (fixture weights) as its own process, sends the shared COCO photos to
POST /v1/detect at concurrency 1, 2, 4, 8, 16 (a thread and a connection a client) and prints
images/s and latency p50/p95/p99, each level next to a `Detector.detect_batch` run on the same
images in this process just before it (the server idle meanwhile), and the single-image
`Detector.detect` time. Then overload: 2x the server's capacity (queue + batch) at once,
counting the statuses (only 200 and 503 may appear).

The fixture weights are random stand-ins: at the usual threshold of 0.1 nearly every anchor passes,
so the score threshold defaults to 0.8, which leaves tens of boxes an image, as real weights do.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from common import SHARED, fixture_checkpoint, machine, median_seconds

PHOTOS = sorted((SHARED / "data" / "coco_val2017_sample").glob("*.jpg"))
CONCURRENCY = (1, 2, 4, 8, 16)


def start_server(checkpoint, args, *extra):
    command = [sys.executable, "-m", "ssd_resnet50", "serve", "--weights", checkpoint, "--port", "0",
               "--backend", args.backend, "--image-size", str(args.image_size), "--score-threshold",
               str(args.score_threshold), "--max-batch-size", str(args.max_batch_size), *extra]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    url = re.search(r"on (http://\S+?) ", process.stdout.readline()).group(1)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/v2/health/ready", timeout=5).status_code == 200:
                return process, url
        except requests.RequestException:
            pass
        time.sleep(0.2)
    process.kill()
    sys.exit("the server did not become ready within 600 s")


def load(url, images, concurrency):
    """(images/s, latencies in s, statuses) of sending every image once, `concurrency` at a time."""
    local = threading.local()

    def send(data):
        session = getattr(local, "session", None) or setattr(local, "session", requests.Session()) or local.session
        started = time.perf_counter()
        response = session.post(f"{url}/v1/detect", data=data, headers={"Content-Type": "image/jpeg"}, timeout=600)
        return time.perf_counter() - started, response.status_code

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(send, images))
    elapsed = time.perf_counter() - started
    return len(images) / elapsed, [seconds for seconds, _ in results], [status for _, status in results]


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=32, help="images sent at each concurrency")
    parser.add_argument("--max-batch-size", type=int, default=4)
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--image-size", type=int, default=640)
    parser.add_argument("--score-threshold", type=float, default=0.8)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from ssd_resnet50 import Detector

    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f} at the start")
    checkpoint = fixture_checkpoint(os.path.join(tempfile.gettempdir(), "ssd_resnet50_fixture_seed0.ckpt"))
    photos = [path.read_bytes() for path in PHOTOS]
    images = [photos[i % len(photos)] for i in range(args.requests)]
    detector = Detector.from_checkpoint(checkpoint, backend=args.backend, image_size=args.image_size,
                                        score_threshold=args.score_threshold, batch_size=args.max_batch_size)
    detector.detect_batch(images[:args.max_batch_size] + images[:1])  # compile both shapes
    single_ms = median_seconds(lambda: detector.detect(images[0]), args.repeats) * 1000

    process, url = start_server(checkpoint, args, "--max-queue", "64", "--timeout", "3600")
    rows = []
    try:
        load(url, images[:8], 4)  # warm connections
        for concurrency in CONCURRENCY:  # each level right after an in-process run: the same load on both
            started = time.perf_counter()
            detector.detect_batch(images)
            in_process = len(images) / (time.perf_counter() - started)
            rows.append((concurrency, in_process, *load(url, images, concurrency)))
    finally:
        process.terminate()
        process.wait(timeout=120)

    print(f"backend {detector.backend.name}, image size {args.image_size}, max batch {args.max_batch_size}, "
          f"{args.requests} images a level; in process, detect one image: {single_ms:.0f} ms")
    print("concurrency  server images/s  in-process images/s  ratio   p50 ms   p95 ms   p99 ms  statuses")
    for concurrency, in_process, rate, latencies, statuses in rows:
        counts = {status: statuses.count(status) for status in sorted(set(statuses))}
        print(f"{concurrency:>11}  {rate:15.2f}  {in_process:19.2f}  {rate / in_process:5.2f}  "
              f"{percentile(latencies, .5) * 1000:7.0f}  {percentile(latencies, .95) * 1000:7.0f}  "
              f"{percentile(latencies, .99) * 1000:7.0f}  {counts}")
    p50_single = percentile(rows[0][3], .5) * 1000
    print(f"concurrency 1: p50 {p50_single:.0f} ms = in-process single image + {p50_single - single_ms:.0f} ms")

    queue = 8
    process, url = start_server(checkpoint, args, "--max-queue", str(queue))
    try:
        clients = 2 * (queue + args.max_batch_size)
        _, _, statuses = load(url, [photos[0]] * clients, clients)
    finally:
        process.terminate()
        process.wait(timeout=120)
    counts = {status: statuses.count(status) for status in sorted(set(statuses))}
    verdict = "only 200 and 503" if set(counts) <= {200, 503} else "UNEXPECTED statuses"
    print(f"overload: {clients} clients at once against --max-queue {queue} and batch {args.max_batch_size}: "
          f"{counts} ({verdict}); load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
