"""`ssd-resnet50 serve` as its own process: overload answered 200 or 503 with bounded memory, and
SIGTERM during a burst answering every accepted request before a clean exit."""
import os
import re
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.serving import wait_until

pytest.importorskip("fastapi", reason="serving needs the [serve] extra (fastapi, uvicorn)")
psutil = pytest.importorskip("psutil", reason="the memory check needs psutil ([test])")

PHOTO = ("data", "coco_val2017_sample", "000000439180.jpg")
TIMEOUT = 120
START_TIMEOUT = 300
BURST = 24


class ServerProcess:
    """`ssd-resnet50 serve` on a free port; its stdout says where, its stderr is kept."""

    def __init__(self, checkpoint, env, *options):
        command = [sys.executable, "-m", "ssd_resnet50", "serve", "--weights", str(checkpoint), "--image-size", "256",
                   "--backend", "onnxruntime", "--score-threshold", "0.8", "--port", "0", *options]
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.stderr = []
        threading.Thread(target=lambda: self.stderr.extend(self.process.stderr), daemon=True).start()
        line = self._first_line()
        found = re.search(r"on (http://127\.0\.0\.1:\d+)", line)
        assert found, f"unexpected first line {line!r}; stderr: {''.join(self.stderr)[-2000:]}"
        self.url = found.group(1)
        wait_until(self.ready, START_TIMEOUT, "the server did not become ready")

    def _first_line(self) -> str:
        lines = []
        reader = threading.Thread(target=lambda: lines.append(self.process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(START_TIMEOUT)
        return lines[0] if lines else ""

    def ready(self) -> bool:
        assert self.process.poll() is None, f"the server exited: {''.join(self.stderr)[-2000:]}"
        try:
            return requests.get(f"{self.url}/v2/health/ready", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def rss(self) -> int:
        return psutil.Process(self.process.pid).memory_info().rss

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)


@pytest.fixture
def serve_env(subprocess_env, onnx_cache_dir):
    from ssd_resnet50.backends.model_cache import CACHE_ENV

    return dict(subprocess_env, **{CACHE_ENV: str(onnx_cache_dir)})


def post_photo(url, data):
    """(status, Retry-After) of one /v1/detect, or ("refused", None) when no connection was accepted."""
    try:
        response = requests.post(f"{url}/v1/detect", data=data, headers={"Content-Type": "image/jpeg"},
                                 timeout=TIMEOUT)
    except requests.ConnectionError as error:
        if _refused(error):
            return "refused", None
        raise
    return response.status_code, response.headers.get("Retry-After")


def _refused(error) -> bool:
    while error is not None:
        if isinstance(error, ConnectionRefusedError):
            return True
        error = error.__cause__ or error.__context__ or (error.args[0] if error.args and isinstance(
            error.args[0], BaseException) else None)
    return False


def test_overload_gets_200_or_503_and_memory_stays_bounded(fixture_checkpoint, serve_env):
    from tests.shared_files import shared_path

    data = shared_path(*PHOTO).read_bytes()
    server = ServerProcess(fixture_checkpoint, serve_env, "--max-queue", "4", "--max-batch-size", "2")
    try:
        assert post_photo(server.url, data)[0] == 200
        rss = []
        for _ in range(3):
            with ThreadPoolExecutor(32) as pool:
                answers = list(pool.map(lambda _: post_photo(server.url, data), range(32), timeout=TIMEOUT))
            statuses = [status for status, _ in answers]
            assert set(statuses) <= {200, 503}, statuses
            assert statuses.count(200) >= 1 and statuses.count(503) >= 1, statuses
            assert all(retry == "1" for status, retry in answers if status == 503)
            rss.append(server.rss())
        assert rss[-1] - rss[0] < 64 << 20, f"RSS grew from {rss[0] >> 20} MiB to {rss[-1] >> 20} MiB under load"
        assert server.ready()  # still serving
    finally:
        server.stop()


@pytest.mark.slow
def test_sigterm_during_a_burst_answers_every_accepted_request_and_exits_0(fixture_checkpoint, serve_env):
    from tests.shared_files import shared_path

    data = shared_path(*PHOTO).read_bytes()
    server = ServerProcess(fixture_checkpoint, serve_env, "--max-batch-size", "4", "--grace", "120")
    try:
        with ThreadPoolExecutor(BURST) as pool:
            burst = [pool.submit(post_photo, server.url, data) for _ in range(BURST)]
            # the first answer comes after a batch's run: by then every request was sent and accepted
            wait_until(lambda: any(future.done() for future in burst), TIMEOUT, "no answer")
            os.kill(server.process.pid, signal.SIGTERM)
            unanswered = sum(not future.done() for future in burst)
            answers = [future.result(timeout=TIMEOUT) for future in burst]
        assert unanswered >= BURST // 2, "the burst was nearly over at SIGTERM: make it longer"
        assert [status for status, _ in answers] == [200] * BURST
        assert server.process.wait(timeout=120) == 0, "".join(server.stderr)[-2000:]
        assert post_photo(server.url, data)[0] == "refused"  # gone: nothing accepts any more
        log = "".join(server.stderr)
        assert log.count('"status": 200') >= BURST  # the access log, a JSON line a request
    finally:
        server.stop()
