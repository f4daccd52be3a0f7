"""Inputs for the detect and sources tests: a mixed folder, an image server on 127.0.0.1, videos."""
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import pytest

from tests.shared_files import shared_path

PHOTOS = ("000000142238.jpg", "000000439180.jpg")


@pytest.fixture(scope="module")
def photo_paths():
    folder = shared_path("data", "coco_val2017_sample")
    return [folder / name for name in PHOTOS]


@pytest.fixture(scope="module")
def mixed_folder(photo_paths, tmp_path_factory):
    """The two photos, a PNG copy of the first, a text file and a corrupt JPEG."""
    folder = tmp_path_factory.mktemp("mixed")
    for photo in photo_paths:
        shutil.copy(photo, folder / photo.name)
    cv2.imwrite(str(folder / "copy.png"), cv2.imread(str(photo_paths[0])))  # the decoder's own pixels
    (folder / "notes.txt").write_text("not an image")
    (folder / "broken.jpg").write_bytes(photo_paths[0].read_bytes()[:300])
    (folder / "sub").mkdir()
    shutil.copy(photo_paths[1], folder / "sub" / "deeper.jpg")
    return folder


class ImageServer(BaseHTTPRequestHandler):
    """Routes: /photo.jpg, /page (HTML), /missing (404), /big (over a 400 kB cap, declared),
    /big-chunked (over the cap, no length), /drip (200 bytes, one each 50 ms: 10 s),
    /to-file (a redirect to file://)."""

    photo = b""

    def do_GET(self):  # noqa: N802 (the http.server name)
        if self.path == "/photo.jpg":
            self._send(200, "image/jpeg", self.photo)
        elif self.path == "/page":
            self._send(200, "text/html; charset=utf-8", b"<html><body>a photo page</body></html>")
        elif self.path == "/big":
            self._send(200, "image/jpeg", b"\xff" * 500000)
        elif self.path == "/big-chunked":
            self._head(200, {"Content-Type": "image/jpeg", "Transfer-Encoding": "chunked"})
            for _ in range(5):
                self.wfile.write(b"186a0\r\n" + b"\xff" * 100000 + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        elif self.path == "/to-file":
            self._head(302, {"Location": "file:///etc/hostname", "Content-Length": "0"})
        elif self.path == "/drip":
            self._head(200, {"Content-Type": "image/jpeg", "Content-Length": "200"})
            for _ in range(200):
                self.wfile.write(b"\xff")
                self.wfile.flush()
                time.sleep(0.05)
        else:
            self._send(404, "text/plain", b"no such file")

    def _send(self, status, kind, body):
        self._head(status, {"Content-Type": kind, "Content-Length": str(len(body))})
        self.wfile.write(body)

    def _head(self, status, headers):
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def log_message(self, *args):
        pass


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a client that stops reading an oversized body breaks the pipe: expected here


@pytest.fixture(scope="module")
def image_server(photo_paths):
    """An HTTP server on 127.0.0.1 for this module's tests, shut down after them."""
    handler = type("Handler", (ImageServer,), {"photo": photo_paths[0].read_bytes()})
    server = QuietServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def write_video(path, frames, fps=6.0):
    """An MJPG video of RGB frames, written with OpenCV."""
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    assert writer.isOpened(), "OpenCV cannot write MJPG here"
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path
