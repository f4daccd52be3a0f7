"""mindspore_hub.deploy, model-agnostic: a hub entry without a pipeline served as a tensor model to
tritonclient; the batcher's rules; the protocol's binary encoding; auth, CORS, deadlines,
readiness and clients that go away."""
import asyncio
import socket
import threading
import time

import numpy as np
import pytest
import requests

pytest.importorskip("fastapi", reason="serving needs the [serve] extra (fastapi, uvicorn)")

from mindspore_hub import cli  # noqa: E402
from mindspore_hub.deploy import ServeSettings, load_pipeline  # noqa: E402
from mindspore_hub.deploy.batching import Batcher, DeadlineExceeded, QueueFull  # noqa: E402
from mindspore_hub.deploy.codec import TensorSpec, decode_request, encode_response  # noqa: E402
from tests.serving import running_server  # noqa: E402

TIMEOUT = 60


@pytest.mark.parametrize("binary", [True, False])
def test_an_entry_without_a_pipeline_is_served_as_a_tensor_model_to_tritonclient(publish, binary):
    httpclient = pytest.importorskip("tritonclient.http", reason="needs tritonclient[http] ([test])")
    model = publish(width=3)
    settings = ServeSettings(max_batch_size=4)
    pipeline, name = load_pipeline(model.uid, settings, input_shape=[4])
    assert name == "tiny_a"
    x = np.random.default_rng(1).standard_normal((2, 4)).astype(np.float32)
    want = x @ model.params["dense.weight"].T + model.params["dense.bias"]  # the network's output
    with running_server(pipeline, name, max_batch_size=4) as url:
        client = httpclient.InferenceServerClient(url.removeprefix("http://"), network_timeout=TIMEOUT)
        metadata = client.get_model_metadata(name)
        assert metadata["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 4]}]
        assert metadata["outputs"] == [{"name": "output_0", "datatype": "FP32", "shape": [-1, 3]}]
        tensor = httpclient.InferInput("input", [2, 4], "FP32")
        tensor.set_data_from_numpy(x, binary_data=binary)
        result = client.infer(name, [tensor], outputs=[httpclient.InferRequestedOutput("output_0", binary_data=binary)])
        np.testing.assert_allclose(result.as_numpy("output_0"), want, rtol=1e-5, atol=1e-6)
        every = client.infer(name, [tensor])  # no outputs named: all of them, in binary (binary_data_output)
        np.testing.assert_allclose(every.as_numpy("output_0"), want, rtol=1e-5, atol=1e-6)
        assert every.get_output("output_0")["parameters"]["binary_data_size"] == want.size * 4
        wrong = httpclient.InferInput("input", [2, 5], "FP32")
        wrong.set_data_from_numpy(np.zeros((2, 5), np.float32))
        from tritonclient.utils import InferenceServerException

        with pytest.raises(InferenceServerException, match=r"shape \[2, 5\]; the model takes \[-1, 4\]"):
            client.infer(name, [wrong])
        client.close()


def test_mshub_serve_refuses_a_public_address_without_a_key_before_loading(capsys):
    assert cli.main(["serve", "tests/cpu/1.0/absent", "--host", "0.0.0.0"]) == 1
    assert "--api-key" in capsys.readouterr().err


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, TIMEOUT))


def test_the_batcher_gathers_concurrent_samples_and_keeps_their_order():
    sizes = []

    def run_batch(samples):
        sizes.append(len(samples))
        time.sleep(0.05)
        return [sample * 10 for sample in samples]

    async def scenario():
        batcher = Batcher(run_batch, max_batch_size=4, max_delay=0.05, max_queue=64)
        await batcher.start()
        results = await asyncio.gather(*(batcher.submit([i], 10) for i in range(10)))
        await batcher.stop()
        return results

    assert run(scenario()) == [[i * 10] for i in range(10)]
    assert sum(sizes) == 10 and max(sizes) == 4 and len(sizes) <= 4


def test_the_batcher_refuses_beyond_its_queue_and_drops_what_passed_its_deadline():
    started, release = [], threading.Event()

    def run_batch(samples):
        started.extend(samples)
        release.wait(TIMEOUT)
        return samples

    async def scenario():
        batcher = Batcher(run_batch, max_batch_size=1, max_delay=0, max_queue=2)
        await batcher.start()
        first = asyncio.create_task(batcher.submit(["running"], 10))
        while not started:
            await asyncio.sleep(0.01)
        late = asyncio.create_task(batcher.submit(["late"], 0.1))  # waits behind "running"
        waiting = asyncio.create_task(batcher.submit(["waiting"], 10))
        await asyncio.sleep(0.01)
        with pytest.raises(QueueFull):
            await batcher.submit(["one too many"], 10)
        with pytest.raises(DeadlineExceeded):
            await late
        release.set()
        assert await first == ["running"] and await waiting == ["waiting"]
        await batcher.stop()

    run(scenario())
    assert started == ["running", "waiting"]  # the expired sample never ran


def test_binary_tensors_round_trip_with_bytes_and_numbers():
    specs = [TensorSpec("image", "BYTES", (-1,)), TensorSpec("x", "FP32", (-1, 2))]
    import json
    import struct

    images = [b"\x00\xffraw", b""]
    raw_images = b"".join(struct.pack("<I", len(v)) + v for v in images)
    raw_x = np.arange(4, dtype="<f4").tobytes()
    header = json.dumps({"id": "7", "inputs": [
        {"name": "image", "datatype": "BYTES", "shape": [2], "parameters": {"binary_data_size": len(raw_images)}},
        {"name": "x", "datatype": "FP32", "shape": [2, 2], "parameters": {"binary_data_size": len(raw_x)}}],
        "outputs": [{"name": "x", "parameters": {"binary_data": True}}]}).encode()
    request = decode_request(header + raw_images + raw_x, str(len(header)), specs)
    assert list(request.inputs["image"]) == images
    np.testing.assert_array_equal(request.inputs["x"], np.arange(4, dtype=np.float32).reshape(2, 2))
    body, length = encode_response("m", request, {"x": request.inputs["x"]}, specs)
    response = json.loads(body[:length])
    assert response["id"] == "7" and response["outputs"][0]["parameters"] == {"binary_data_size": 16}
    assert body[length:] == raw_x


class SlowPipeline:
    """A pipeline whose model takes `seconds` a batch and whose warm-up waits for `warm`."""

    inputs = [{"name": "x", "datatype": "FP32", "shape": [-1, 1]}]
    outputs = [{"name": "y", "datatype": "FP32", "shape": [-1, 1]}]

    def __init__(self, seconds=0.0):
        self.seconds, self.warm = seconds, threading.Event()

    def prepare(self, sample):
        return sample["x"]

    def run_batch(self, samples):
        time.sleep(self.seconds)
        return [{"y": sample * 2} for sample in samples]

    def warmup(self, max_batch_size):
        self.warm.wait(TIMEOUT)


def infer(url, value=1.0, **kwargs):
    return requests.post(f"{url}/v2/models/slow/infer", timeout=TIMEOUT, json={
        "inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 1], "data": [value]}]}, **kwargs)


def test_not_ready_until_warm_then_a_deadline_gives_504():
    pipeline = SlowPipeline(seconds=0.5)
    with running_server(pipeline, "slow", wait_ready=False, timeout=0.2) as url:
        assert requests.get(f"{url}/v2/health/live", timeout=TIMEOUT).status_code == 200
        assert requests.get(f"{url}/v2/health/ready", timeout=TIMEOUT).status_code == 503
        response = infer(url)
        assert response.status_code == 503 and response.headers["Retry-After"] == "1"
        pipeline.warm.set()
        from tests.serving import wait_until

        wait_until(lambda: requests.get(f"{url}/v2/health/ready", timeout=TIMEOUT).status_code == 200, 30, "not ready")
        response = infer(url)
        assert response.status_code == 504 and "deadline" in response.json()["error"]


def test_an_api_key_guards_everything_but_health_and_the_page_and_cors_is_off_by_default():
    pipeline = SlowPipeline()
    pipeline.warm.set()
    with running_server(pipeline, "slow", api_key="s3cret") as url:
        assert infer(url).status_code == 401
        assert infer(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
        response = infer(url, 3.0, headers={"Authorization": "Bearer s3cret"})
        assert response.status_code == 200 and response.json()["outputs"][0]["data"] == [6.0]
        assert requests.get(f"{url}/metrics", timeout=TIMEOUT).status_code == 401
        assert requests.get(f"{url}/v2/health/ready", timeout=TIMEOUT).status_code == 200
        assert requests.get(f"{url}/openapi.json", timeout=TIMEOUT).json()["paths"]
        page = requests.get(f"{url}/", timeout=TIMEOUT, headers={"Origin": "http://elsewhere.example"})
        assert page.status_code == 200 and "<canvas" in page.text
        assert "access-control-allow-origin" not in page.headers
    with running_server(pipeline, "slow", api_key="s3cret", cors_origins=("http://app.example",)) as url:
        preflight = requests.options(f"{url}/v2/models/slow/infer", timeout=TIMEOUT, headers={
            "Origin": "http://app.example", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type"})
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "http://app.example"
        other = requests.get(f"{url}/v2/health/live", timeout=TIMEOUT, headers={"Origin": "http://elsewhere.example"})
        assert "access-control-allow-origin" not in other.headers
    with pytest.raises(ValueError, match="--insecure-no-auth"):
        ServeSettings(host="0.0.0.0")
    assert ServeSettings(host="0.0.0.0", insecure_no_auth=True).host == "0.0.0.0"


def test_clients_that_go_away_mid_request_affect_no_one_else():
    pipeline = SlowPipeline(seconds=0.3)
    pipeline.warm.set()
    with running_server(pipeline, "slow") as url:
        port = int(url.rsplit(":", 1)[1])
        for request in (  # a body cut short, then a request whose answer no one waits for
                b"POST /v2/models/slow/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"inp",
                b"POST /v2/models/slow/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 68\r\n\r\n"
                b'{"inputs":[{"name":"x","datatype":"FP32","shape":[1,1],"data":[1]}]}'):
            with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as client:
                client.sendall(request)
            response = infer(url, 4.0)
            assert response.status_code == 200 and response.json()["outputs"][0]["data"] == [8.0]


def test_mshub_serve_runs_an_entry_from_the_command_line_and_stops_cleanly_on_sigterm(publish):
    import json
    import os
    import re
    import signal
    import subprocess
    import sys

    from tests.serving import wait_until

    model = publish()
    process = subprocess.Popen(
        [sys.executable, "-m", "mindspore_hub.cli", "serve", str(model.md), "--port", "0",
         "--option", "input_shape=[4]", "--max-batch-size", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        found = re.search(r"serving tiny_a on (http://127\.0\.0\.1:\d+)", line)
        assert found, (line, process.stderr.read() if process.poll() is not None else "")
        url = found.group(1)

        def ready():
            try:
                return requests.get(f"{url}/v2/models/tiny_a/ready", timeout=5).status_code == 200
            except requests.RequestException:
                return False

        wait_until(ready, 120, "mshub serve did not become ready")
        response = requests.post(f"{url}/v2/models/tiny_a/infer", timeout=TIMEOUT, json={
            "inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 4], "data": [1, 2, 3, 4]}]})
        assert response.status_code == 200, response.text
        want = np.array([1, 2, 3, 4], np.float32) @ model.params["dense.weight"].T + model.params["dense.bias"]
        np.testing.assert_allclose(response.json()["outputs"][0]["data"], want, rtol=1e-5)
        os.kill(process.pid, signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        log = [json.loads(line) for line in process.stderr.read().splitlines() if line.startswith("{")]
        assert {"path": "/v2/models/tiny_a/infer", "status": 200} in [
            {key: entry[key] for key in ("path", "status")} for entry in log]
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def test_a_chunked_body_over_the_limit_gets_413_while_it_arrives():
    pipeline = SlowPipeline()
    pipeline.warm.set()
    with running_server(pipeline, "slow", max_body_mb=0.001) as url:  # 1048 bytes
        chunks = iter([b" " * 1000] * 50)  # no Content-Length: requests sends it chunked
        response = requests.post(f"{url}/v2/models/slow/infer", data=chunks, timeout=TIMEOUT,
                                 headers={"Content-Type": "application/json"})
        assert response.status_code == 413 and "1048 bytes" in response.json()["error"]
        assert infer(url, 2.0).json()["outputs"][0]["data"] == [4.0]


PIPELINE_HOOK = '''

class Doubled:
    inputs = [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}]
    outputs = [{"name": "y", "datatype": "FP32", "shape": [-1, 3]}]

    def __init__(self, network, max_batch_size, factor):
        self.network, self.factor = network, factor

    def prepare(self, sample):
        return sample["x"]

    def run_batch(self, samples):
        import mindspore
        import numpy

        out = self.network(mindspore.Tensor(numpy.stack(samples))).asnumpy()
        return [{"y": row * self.factor} for row in out]


def create_pipeline(name, network, max_batch_size, factor=1.0):
    return Doubled(network, max_batch_size, factor)
'''


def test_a_folder_entry_with_the_hook_serves_its_own_pipeline(publish):
    model = publish()
    with open(model.folder / "hub_conf.py", "a") as f:
        f.write(PIPELINE_HOOK)
    pipeline, name = load_pipeline(model.md, ServeSettings(max_batch_size=2), factor=2.0)
    assert type(pipeline).__name__ == "Doubled"
    x = np.ones((1, 4), np.float32)
    with running_server(pipeline, name, max_batch_size=2) as url:
        response = requests.post(f"{url}/v2/models/{name}/infer", timeout=TIMEOUT, json={
            "inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4], "data": x.ravel().tolist()}]})
        assert response.status_code == 200, response.text
        want = 2.0 * (x @ model.params["dense.weight"].T + model.params["dense.bias"])
        np.testing.assert_allclose(response.json()["outputs"][0]["data"], want.ravel(), rtol=1e-5)


class FailingOnce(SlowPipeline):
    """Its model raises on the first batch, then works."""

    failed = False

    def run_batch(self, samples):
        if not self.failed:
            self.failed = True
            raise RuntimeError("out of device memory")
        return super().run_batch(samples)


def test_a_failing_model_call_is_a_json_500_and_the_server_goes_on():
    pipeline = FailingOnce()
    pipeline.warm.set()
    with running_server(pipeline, "slow") as url:
        response = infer(url)
        assert response.status_code == 500
        assert response.json()["error"] == "the model failed: RuntimeError: out of device memory"
        assert infer(url, 5.0).json()["outputs"][0]["data"] == [10.0]
