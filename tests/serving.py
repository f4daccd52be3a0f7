"""A model server for tests: uvicorn in a thread of the test process, on 127.0.0.1 and a free port,
stopped (and joined, bounded) when the test is done."""
import contextlib
import threading
import time

import requests

START_TIMEOUT = 300  # seconds to wait for ready: the warm-up exports/compiles both batch shapes


@contextlib.contextmanager
def running_server(pipeline, name="model", wait_ready=True, **options):
    """Serve `pipeline` as `name` with `ServeSettings(**options)`; yields its base URL."""
    from mindspore_hub.deploy.server import make_server  # needs the [serve] extra: imported by the tests that skip
    from mindspore_hub.deploy.settings import ServeSettings  # without it
    settings = ServeSettings(host="127.0.0.1", port=0, **options)
    server, sock = make_server(pipeline, name, settings)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        wait_until(lambda: server.started, 30, "the server did not start")
        if wait_ready:
            wait_until(lambda: _ready(url), START_TIMEOUT, "the server did not become ready")
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        sock.close()
        assert not thread.is_alive(), "the server did not stop within 60 s"


def _ready(url) -> bool:
    try:
        return requests.get(f"{url}/v2/health/ready", timeout=5).status_code == 200
    except requests.RequestException:
        return False


def wait_until(condition, timeout, message):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} within {timeout} s")
        time.sleep(0.05)


def metric(url, name, **labels) -> float:
    """The value of one sample of the server's /metrics (0 when absent)."""
    from prometheus_client.parser import text_string_to_metric_families

    text = requests.get(f"{url}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0
