"""ssd_resnet50 served by mindspore_hub.deploy: a real Open Inference Protocol client (tritonclient),
the plain /v1/detect endpoint, bad inputs answered while good ones go on, dynamic batching.

One server for the module (fixture weights, a 256-pixel network so the warm-up is short,
onnxruntime, score threshold 0.8 so the random stand-in weights give tens of boxes, not thousands).
"""
import base64
import io
import json
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import requests
from PIL import Image

from tests.serving import metric, running_server
from tests.shared_files import shared_path

pytest.importorskip("fastapi", reason="serving needs the [serve] extra (fastapi, uvicorn)")
httpclient = pytest.importorskip("tritonclient.http", reason="the protocol test needs tritonclient[http] ([test])")

PHOTOS = ("000000142238.jpg", "000000439180.jpg")
MAX_BATCH = 4
SETTINGS = {"image_size": 256, "backend": "onnxruntime", "score_threshold": 0.8}
TIMEOUT = 120  # seconds any client call may take


@pytest.fixture(scope="module")
def detector(fixture_checkpoint):
    from ssd_resnet50 import Detector

    return Detector.from_checkpoint(fixture_checkpoint, batch_size=MAX_BATCH, **SETTINGS)


@pytest.fixture(scope="module")
def photos():
    return {name: shared_path("data", "coco_val2017_sample", name).read_bytes() for name in PHOTOS}


@pytest.fixture(scope="module")
def expected(fixture_checkpoint, photos):
    """Detector.detect on each photo, by a detector of its own (the server's is busy serving)."""
    from ssd_resnet50 import Detector

    own = Detector.from_checkpoint(fixture_checkpoint, batch_size=MAX_BATCH, **SETTINGS)
    return {name: own.detect(data) for name, data in photos.items()}


@pytest.fixture(scope="module")
def server(detector):
    from ssd_resnet50.serving import DetectionPipeline

    with running_server(DetectionPipeline(detector, max_batch_size=MAX_BATCH), "ssd_resnet50",
                        max_batch_size=MAX_BATCH, max_delay_ms=20, max_queue=64, max_body_mb=1) as url:
        yield url


def as_listed(detections):
    return [{"box": [float(v) for v in det.box], "score": float(det.score), "label": det.label,
             "category_id": det.category_id, "category_name": det.category_name} for det in detections]


def close(got, want, tolerance=1e-4):
    """Detections equal but for float rounding between batch shapes."""
    assert [d["category_id"] for d in got] == [d["category_id"] for d in want]
    np.testing.assert_allclose([d["box"] + [d["score"]] for d in got], [d["box"] + [d["score"]] for d in want],
                               rtol=tolerance, atol=tolerance * 10)


@pytest.mark.parametrize("binary", [True, False])
def test_tritonclient_reads_the_metadata_and_gets_the_detectors_detections(server, photos, expected, binary):
    client = httpclient.InferenceServerClient(server.removeprefix("http://"), connection_timeout=TIMEOUT,
                                              network_timeout=TIMEOUT)
    assert client.is_server_live() and client.is_server_ready() and client.is_model_ready("ssd_resnet50")
    metadata = client.get_model_metadata("ssd_resnet50")
    assert metadata["inputs"] == [{"name": "image", "datatype": "BYTES", "shape": [-1]}]
    assert {o["name"] for o in metadata["outputs"]} >= {"detections", "boxes", "scores", "category_ids"}

    names = list(photos)
    image = httpclient.InferInput("image", [len(names)], "BYTES")
    if binary:
        image.set_data_from_numpy(np.array([photos[n] for n in names], dtype=object), binary_data=True)
    else:  # JSON cannot carry raw bytes: the image input takes base64 there
        image.set_data_from_numpy(np.array([base64.b64encode(photos[n]) for n in names], dtype=object),
                                  binary_data=False)
    outputs = [httpclient.InferRequestedOutput(name, binary_data=binary)
               for name in ("detections", "boxes", "scores", "category_ids", "num_detections")]
    result = client.infer("ssd_resnet50", [image], outputs=outputs)

    listed = result.as_numpy("detections")
    counts = result.as_numpy("num_detections")
    for index, name in enumerate(names):
        want = expected[name]
        assert want, "the fixture weights should find something in the photo at this threshold"
        got = json.loads(listed[index])
        assert got == as_listed(want)  # the same code path: the same numbers
        count = int(counts[index])
        assert count == len(want)
        np.testing.assert_allclose(result.as_numpy("boxes")[index, :count], [d.box for d in want], rtol=1e-6)
        np.testing.assert_allclose(result.as_numpy("scores")[index, :count], [d.score for d in want], rtol=1e-6)
        assert result.as_numpy("category_ids")[index, :count].tolist() == [d.category_id for d in want]
    client.close()


def test_v1_detect_takes_a_multipart_upload_and_a_raw_body(server, photos, expected):
    name, data = next(iter(photos.items()))
    multipart = requests.post(f"{server}/v1/detect", files={"file": (name, data, "image/jpeg")}, timeout=TIMEOUT)
    raw = requests.post(f"{server}/v1/detect", data=data, headers={"Content-Type": "image/jpeg"}, timeout=TIMEOUT)
    for response in (multipart, raw):
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["detections"] == as_listed(expected[name])
        assert body["image"] == {"width": 640, "height": 427} and body["model"] == "ssd_resnet50"
        assert body["time_ms"] > 0


def png(width, height) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (90, 120, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def bomb_png(width=30000, height=30000) -> bytes:
    """A valid PNG header claiming 900 million pixels (its data is a few bytes)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\0" * 10)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def v2_json(model="ssd_resnet50", **tensor):
    image = {"name": "image", "datatype": "BYTES", "shape": [1], "data": [base64.b64encode(png(32, 32)).decode()]}
    image.update(tensor)
    return {"url": f"/v2/models/{model}/infer", "json": {"inputs": [image]}}


BAD_INPUTS = {  # case: (request arguments, status, words of the message)
    "not an image": ({"data": b"hello, I am text", "headers": {"Content-Type": "image/png"}}, 400, "not an image"),
    "truncated": ("truncated", 400, "image"),
    "corrupt": ("corrupt", 400, "image"),
    "decompression bomb": ({"data": bomb_png(), "headers": {"Content-Type": "image/png"}}, 400, "decompression bomb"),
    "body over the limit": ({"data": b"\xff" * ((1 << 20) + 1), "headers": {"Content-Type": "image/jpeg"}}, 413,
                            "larger than the limit"),
    "wrong content type": ({"data": b"{}", "headers": {"Content-Type": "application/json"}}, 415, "content type"),
    "no file in the form": ({"files": {"field": (None, "value")}}, 400, "no file"),
    "v2 wrong shape": (v2_json(shape=[1, 1]), 400, "shape"),
    "v2 wrong datatype": (v2_json(datatype="FP32", data=[1.0]), 400, "datatype"),
    "v2 not base64": (v2_json(data=["%%% not base64"]), 400, "base64"),
    "v2 not JSON": ({"url": "/v2/models/ssd_resnet50/infer", "data": b"{nope", "headers": {
        "Content-Type": "application/json"}}, 400, "not JSON"),
    "v2 binary size beyond the body": ("binary size", 400, "beyond the binary data"),
    "unknown model": (v2_json(model="yolo"), 404, "unknown model"),
}


def bad_request(case, photos):
    arguments, status, words = BAD_INPUTS[case]
    data = next(iter(photos.values()))
    if arguments == "truncated":
        arguments = {"data": data[: len(data) // 3], "headers": {"Content-Type": "image/jpeg"}}
    elif arguments == "corrupt":  # a PNG whose header reads but whose pixel data fails its checksum
        broken = bytearray(png(64, 64))
        start = broken.index(b"IDAT") + 8
        broken[start:start + 8] = b"\x00" * 8
        arguments = {"data": bytes(broken), "headers": {"Content-Type": "image/png"}}
    elif arguments == "binary size":
        header = json.dumps({"inputs": [{"name": "image", "datatype": "BYTES", "shape": [1],
                                         "parameters": {"binary_data_size": 99}}]}).encode()
        arguments = {"url": "/v2/models/ssd_resnet50/infer", "data": header + b"\0" * 10,
                     "headers": {"Inference-Header-Content-Length": str(len(header))}}
    arguments = dict(arguments)
    url = arguments.pop("url", "/v1/detect")
    return url, arguments, status, words


def test_every_bad_input_gets_its_status_and_message_while_good_requests_succeed(server, photos, expected):
    name, good = next(iter(photos.items()))

    def good_request(_):
        response = requests.post(f"{server}/v1/detect", data=good, headers={"Content-Type": "image/jpeg"},
                                 timeout=TIMEOUT)
        return response.status_code, response.json()

    def send(case):
        url, arguments, status, words = bad_request(case, photos)
        response = requests.post(f"{server}{url}", timeout=TIMEOUT, **arguments)
        return case, status, words, response.status_code, response.json()

    with ThreadPoolExecutor(8) as pool:
        goods = [pool.submit(good_request, i) for i in range(6)]
        bads = [pool.submit(send, case) for case in BAD_INPUTS]
        for future in bads:
            case, status, words, got, body = future.result(timeout=TIMEOUT)
            assert got == status, f"{case}: {got} {body}"
            assert words.lower() in body["error"].lower(), f"{case}: {body}"
        for future in goods:
            status, body = future.result(timeout=TIMEOUT)
            assert status == 200 and body["detections"] == as_listed(expected[name])


def test_one_bad_image_in_a_v2_request_names_its_sample(server, photos):
    image = httpclient.InferInput("image", [2], "BYTES")
    image.set_data_from_numpy(np.array([next(iter(photos.values())), b"not an image"], dtype=object))
    client = httpclient.InferenceServerClient(server.removeprefix("http://"), network_timeout=TIMEOUT)
    from tritonclient.utils import InferenceServerException

    with pytest.raises(InferenceServerException, match="sample 1: image: not an image"):
        client.infer("ssd_resnet50", [image])
    client.close()


def test_concurrent_requests_share_batches_and_each_gets_its_own_detections(server, photos, expected):
    before = metric(server, "mshub_batch_size_count"), metric(server, "mshub_batch_size_sum")
    order = list(photos) * 6

    def detect(name):
        response = requests.post(f"{server}/v1/detect", data=photos[name], headers={"Content-Type": "image/jpeg"},
                                 timeout=TIMEOUT)
        assert response.status_code == 200, response.text
        return name, response.json()["detections"]

    with ThreadPoolExecutor(len(order)) as pool:
        for name, detections in pool.map(detect, order, timeout=TIMEOUT):
            close(detections, as_listed(expected[name]))  # routed back to its own request
    batches = metric(server, "mshub_batch_size_count") - before[0]
    samples = metric(server, "mshub_batch_size_sum") - before[1]
    assert samples == len(order)
    assert batches < len(order), f"{len(order)} concurrent requests ran in {batches} model calls: no batching"
    assert metric(server, "mshub_batch_size_bucket", le="1.0") < metric(server, "mshub_batch_size_count")


def test_metrics_count_requests_by_status(server, photos):
    requests.post(f"{server}/v1/detect", data=b"nope", headers={"Content-Type": "image/png"}, timeout=TIMEOUT)
    assert metric(server, "mshub_requests_total", route="task", status="400") >= 1
    assert metric(server, "mshub_request_seconds_count", route="task") >= 1
    text = requests.get(f"{server}/metrics", timeout=TIMEOUT).text
    for name in ("mshub_queue_depth", "mshub_samples_total", "mshub_samples_per_second", "mshub_batch_size_bucket"):
        assert name in text


def chromium():
    """(browser, driver) paths of Debian's chromium, or a skip (a failure where CI_REQUIRE_BROWSER=1)."""
    import os
    import shutil

    pytest.importorskip("selenium", reason="the page test drives chromium with selenium ([test])")
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not (browser and driver):
        message = "the page test needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"
        if os.environ.get("CI_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return browser, driver


def test_the_page_in_headless_chromium_draws_the_boxes_and_lists_the_detections(server, photos, expected, tmp_path,
                                                                                 monkeypatch):
    browser, driver_path = chromium()
    monkeypatch.setenv("SE_OFFLINE", "true")  # selenium never looks for drivers online
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    name = "000000439180.jpg"
    photo = tmp_path / name
    photo.write_bytes(photos[name])
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000",
                     "--force-device-scale-factor=1", f"--user-data-dir={tmp_path / 'profile'}",
                     "--no-first-run", "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--disable-default-apps"):  # the browser talks to 127.0.0.1 only
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        driver.set_page_load_timeout(TIMEOUT)
        driver.get(server + "/")
        driver.find_element(By.ID, "file").send_keys(str(photo))
        WebDriverWait(driver, TIMEOUT).until(
            lambda d: d.find_element(By.ID, "status").get_attribute("data-done") == "1"
            or "error" in (d.find_element(By.ID, "status").get_attribute("class") or ""))
        status = driver.find_element(By.ID, "status").text
        assert "the server took" in status, status
        want = [det for det in expected[name] if det.score >= 0.3]  # the slider's default
        items = driver.find_elements(By.CSS_SELECTOR, "#detections li")
        assert len(items) == len(want) > 0
        assert items[0].text.startswith(f"{want[0].category_name} {want[0].score:.2f}")
        screenshot = tmp_path / "page.png"
        driver.find_element(By.ID, "canvas").screenshot(str(screenshot))
    finally:
        driver.quit()
    drawn = np.asarray(Image.open(screenshot).convert("RGB"), np.int16)[1:-1, 1:-1]  # inside its 1-pixel border
    original = np.asarray(Image.open(io.BytesIO(photos[name])).convert("RGB"), np.int16)
    assert drawn.shape == original.shape, "the canvas should show the photo at its own size"
    x, y, w, h = (int(round(v)) for v in want[0].box)
    y = min(max(y, 1), original.shape[0] - 2)
    edge = slice(x + 2, max(x + 3, x + w - 2))
    changed = np.abs(drawn[y, edge] - original[y, edge]).max(axis=1) > 60  # the box's top edge
    assert changed.mean() > 0.5, "no box drawn where the first detection is"
    elsewhere = np.abs(drawn - original).max(axis=2) > 60
    assert elsewhere.mean() < 0.9, "the photo itself should still show"


def test_the_hub_finds_the_pipeline_hook_of_this_entry(fixture_network, monkeypatch, tmp_path):
    """`mshub serve UID` takes this entry's create_pipeline (the installed entry point; hub_conf.py offers
    the same function to a folder entry)."""
    import hub_conf
    from mindspore_hub import code, index, names
    from mindspore_hub.deploy.pipeline import HOOK
    from ssd_resnet50.cli.arguments import PUBLISHED_UID
    from ssd_resnet50.serving import DetectionPipeline, create_pipeline

    monkeypatch.setenv("MSHUB_OFFLINE", "1")
    monkeypatch.setenv("MSHUB_DIR", str(tmp_path / "hub"))
    meta = index.lookup(names.parse(PUBLISHED_UID, None), None, False)
    assert code.find_entry(meta).hook(meta.model_name, HOOK) is create_pipeline
    pipeline = hub_conf.create_pipeline("ssd_resnet50", fixture_network, max_batch_size=3, backend="mindspore",
                                        score_threshold=0.5, max_pixels=1000)
    assert isinstance(pipeline, DetectionPipeline) and pipeline.detector.batch_size == 3
    assert pipeline.detector.score_threshold == 0.5
    with pytest.raises(ValueError, match="more than the limit of 1000"):
        pipeline.prepare({"image": np.array(png(40, 30), dtype=object)})
