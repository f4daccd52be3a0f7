"""What the user names -> the images to detect on, one `SourceItem` at a time.

    for item in Sources(["photos/", "more/*.jpg", "https://example.com/a.jpg", "clip.mp4", "-"]):
        ...   # item.name, item.image (a path, bytes or an RGB array), item.frame, item.error

One place expands every kind of input the CLI and `Detector.iter_detect` take: image files;
folders (the images inside, sorted; sub-folders with `recursive=True`), where files of other
extensions are counted in `skipped`, not tried; glob patterns, expanded here so that quoted
patterns work too (a path that exists is never taken as a pattern); `http(s)://` URLs, fetched
with requests under a time limit and a size cap; video files, read frame by frame with OpenCV
(every `vid_stride`-th frame); `-`, one encoded image on standard input. Anything else (bytes,
PIL images, arrays, and `SourceItem`s, for a path to be read as one image whatever its name)
passes through. A URL that fails, a video that does not open or a pattern
that matches nothing becomes an item carrying its error, so the rest go on.
"""
import glob
import os
import re
import sys
import time
from dataclasses import dataclass

import cv2
import requests
import urllib3

from .preprocess import describe

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".dib", ".tif", ".tiff", ".webp",
                              ".pbm", ".pgm", ".ppm", ".pnm", ".jp2", ".sr", ".ras"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv",
                              ".gif"})
URL_MAX_BYTES = 64 << 20  # an image bigger than this is not a photo; the cap keeps a wrong link from filling memory
URL_TIMEOUT = (10.0, 30.0)  # seconds to connect, and between bytes read
URL_DEADLINE = 120.0  # seconds for a whole download, however slowly the bytes come
STDIN_NAME = "<stdin>"
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


@dataclass
class SourceItem:
    """One image to detect on: `image` is what `preprocess` takes (a path, encoded bytes, an RGB
    array for a video frame, a PIL image), or `error` says why there is none."""

    name: str  # the file, URL or video it came from
    image: object = None
    frame: int = None  # the frame index in a video
    time: float = None  # seconds into the video
    fps: float = None  # frames a second of the frames given: the video's rate / vid_stride
    error: str = None


class Sources:
    """The inputs expanded (see the module docstring); iterate it for `SourceItem`s in order.

    `count` is the number of items when known before reading (None with videos, stdin, or
    inputs given as a generator), `skipped` the files of folders and patterns passed over, by
    extension. A list of inputs may be iterated again; a generator once.
    """

    def __init__(self, inputs, *, recursive=False, vid_stride=1, url_max_bytes=URL_MAX_BYTES,
                 url_timeout=URL_TIMEOUT, stdin=None):
        if vid_stride < 1:
            raise ValueError(f"vid_stride must be 1 or more, got {vid_stride}")
        self.recursive = recursive
        self.vid_stride = int(vid_stride)
        self.url_max_bytes = url_max_bytes
        self.url_timeout = url_timeout
        self.stdin = stdin
        self.skipped = {}
        values = _as_list(inputs)
        # (kind, value) steps: "image", "video", "url", "stdin", "object", "error". A list is
        # expanded now, to count it; any other iterable (a generator of frames, say) lazily.
        self._plan = (step for value in values for step in self._expand(value))
        self.count = None
        if isinstance(values, (list, tuple)):
            self._plan = list(self._plan)
            if not any(kind in ("video", "stdin") for kind, _ in self._plan):
                self.count = len(self._plan)

    def skipped_summary(self) -> str:
        """One line naming what folders held besides images ('' when nothing was skipped)."""
        if not self.skipped:
            return ""
        parts = ", ".join(f"{count} {ext or 'without extension'}" for ext, count in sorted(self.skipped.items()))
        return f"skipped {sum(self.skipped.values())} files that are not images or videos ({parts})"

    def __iter__(self):
        for kind, value in self._plan:
            if kind == "video":
                yield from video_frames(value, self.vid_stride)
            elif kind == "url":
                yield self._fetch(value)
            elif kind == "stdin":
                yield self._read_stdin()
            elif kind == "item":
                yield value
            elif kind == "error":
                yield SourceItem(value[0], error=value[1])
            else:
                yield SourceItem(describe(value), value)

    def _expand(self, value) -> list:
        if isinstance(value, SourceItem):
            return [("item", value)]
        if not isinstance(value, (str, os.PathLike)):
            return [("object", value)]
        path = os.fspath(value)
        if path == "-":
            return [("stdin", None)]
        if _SCHEME.match(path):
            if path.split(":", 1)[0].lower() in ("http", "https"):
                return [("url", path)]
            return [("error", (path, f"{path}: only http:// and https:// URLs are read"))]
        if os.path.isdir(path):
            return self._listing(_walk(path, self.recursive), path)
        if os.path.exists(path) or not glob.has_magic(path):
            return [(_kind_of(path) or "image", path)]  # a missing file is reported when it is read
        matches = sorted(glob.glob(path, recursive=True))
        files = [match for match in matches if os.path.isfile(match)]
        if not files:
            return [("error", (path, f"{path}: no file matches this pattern"))]
        return self._listing(files, path)

    def _listing(self, files, origin) -> list:
        plan = []
        for file in files:
            kind = _kind_of(file)
            if kind:
                plan.append((kind, file))
            else:
                extension = os.path.splitext(file)[1].lower()
                self.skipped[extension] = self.skipped.get(extension, 0) + 1
        if not plan:
            return [("error", (origin, f"{origin}: holds no image or video files"))]
        return plan

    def _fetch(self, url) -> SourceItem:
        try:
            return SourceItem(url, fetch_url(url, self.url_max_bytes, self.url_timeout))
        except SourceError as error:
            return SourceItem(url, error=str(error))

    def _read_stdin(self) -> SourceItem:
        stream = self.stdin if self.stdin is not None else sys.stdin.buffer
        data = stream.read(self.url_max_bytes + 1)
        if len(data) > self.url_max_bytes:
            return SourceItem(STDIN_NAME, error=f"{STDIN_NAME}: more than {self.url_max_bytes} bytes; not one image")
        return SourceItem(STDIN_NAME, data)


class SourceError(ValueError):
    """An input that could not be fetched or opened; the message names it."""


def fetch_url(url, max_bytes=URL_MAX_BYTES, timeout=URL_TIMEOUT, deadline=URL_DEADLINE) -> bytes:
    """The body of an http(s) image URL, or SourceError naming the URL and what was wrong."""
    give_up = time.monotonic() + deadline
    try:
        with requests.get(url, stream=True, timeout=timeout, headers={"Accept": "image/*"}) as response:
            if response.status_code != 200:
                raise SourceError(f"{url}: the server answered HTTP {response.status_code} {response.reason or ''}"
                                  .rstrip())
            kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if kind.startswith("text/") or kind in ("application/json", "application/xhtml+xml"):
                raise SourceError(f"{url}: the server sent {kind}, not an image (a web page rather than "
                                  "the image's own address?)")
            length = response.headers.get("Content-Length", "")
            if length.isdigit() and int(length) > max_bytes:
                raise SourceError(f"{url}: {int(length)} bytes is over the {max_bytes}-byte cap for an image")
            body, size = [], 0
            # read1 returns what has arrived; iter_content would wait for 64 kB, so a server
            # dripping a byte a few seconds could outlast the deadline by days.
            while chunk := response.raw.read1(1 << 16, decode_content=True):
                size += len(chunk)
                if size > max_bytes:
                    raise SourceError(f"{url}: more than the {max_bytes}-byte cap for an image")
                if time.monotonic() > give_up:
                    raise SourceError(f"{url}: the download took over {deadline:g} s")
                body.append(chunk)
            return b"".join(body)
    except (requests.RequestException, urllib3.exceptions.HTTPError) as error:
        raise SourceError(f"{url}: cannot download it ({type(error).__name__}: {error})") from error


def image_file(path) -> SourceItem:
    """A path to read as one image, never as a folder, pattern, URL or video (a data set's image:
    an animated .gif must give one result, not one a frame)."""
    return SourceItem(os.fspath(path), os.fspath(path))


def video_frames(path, stride=1):
    """`SourceItem`s of every `stride`-th frame of a video (RGB arrays), keyed by index and time."""
    capture = cv2.VideoCapture(path)
    try:
        if not capture.isOpened():
            yield SourceItem(path, error=f"{path}: cannot open it as a video (missing, corrupt or an "
                                         "unsupported codec)")
            return
        fps = capture.get(cv2.CAP_PROP_FPS)
        fps = fps if fps and fps > 0 else None
        index = 0
        while True:
            wanted = index % stride == 0
            ok, frame = capture.read() if wanted else (capture.grab(), None)
            if not ok:
                break
            if wanted:
                yield SourceItem(path, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), frame=index,
                                 time=index / fps if fps else None, fps=fps / stride if fps else None)
            index += 1
        if index == 0:
            yield SourceItem(path, error=f"{path}: no frame could be read from the video")
    finally:
        capture.release()


def _as_list(inputs):
    """A single input (a path, URL, bytes, image) -> a list of it; an iterable of inputs as it is."""
    if isinstance(inputs, (str, os.PathLike, bytes, bytearray, memoryview)) or hasattr(inputs, "__array__") \
            or hasattr(inputs, "getexif"):
        return [inputs]
    return inputs


def _kind_of(path):
    extension = os.path.splitext(path)[1].lower()
    if extension in IMAGE_EXTENSIONS:
        return "image"
    if extension in VIDEO_EXTENSIONS:
        return "video"
    return None


def _walk(folder, recursive) -> list:
    if not recursive:
        return sorted(entry.path for entry in os.scandir(folder) if entry.is_file())
    files = []
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        files += [os.path.join(root, name) for name in sorted(names)]
    return files

