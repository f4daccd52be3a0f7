"""Sources: folders, globs, URLs (a server on 127.0.0.1), videos and stdin expanded into items."""
import io
import time

import numpy as np
import pytest

from ssd_resnet50.inference.sources import SourceError, Sources, fetch_url, image_file
from tests.ssd_resnet50.detect_inputs import image_server, mixed_folder, photo_paths, write_video  # noqa: F401

def names(sources):
    return [item.name for item in sources]


def test_a_folder_gives_its_images_sorted_and_one_line_for_the_rest(mixed_folder):
    sources = Sources([mixed_folder])
    items = list(sources)
    assert [i.name for i in items] == [str(mixed_folder / n) for n in
                                       ("000000142238.jpg", "000000439180.jpg", "broken.jpg", "copy.png")]
    assert sources.count == 4 and all(item.error is None and item.image == item.name for item in items)
    assert sources.skipped == {".txt": 1}
    assert sources.skipped_summary() == "skipped 1 files that are not images or videos (1 .txt)"
    recursive = Sources(str(mixed_folder), recursive=True)
    assert names(recursive)[-1] == str(mixed_folder / "sub" / "deeper.jpg") and recursive.count == 5


def test_glob_patterns_are_expanded_here_and_existing_paths_are_never_patterns(mixed_folder, tmp_path):
    assert names(Sources(str(mixed_folder / "*.jpg"))) == [
        str(mixed_folder / n) for n in ("000000142238.jpg", "000000439180.jpg", "broken.jpg")]
    assert names(Sources(str(mixed_folder / "**" / "deep*.jpg"))) == [str(mixed_folder / "sub" / "deeper.jpg")]
    odd = tmp_path / "shot[1].jpg"  # a real file whose name looks like a pattern
    odd.write_bytes(b"x")
    assert names(Sources(str(odd))) == [str(odd)]
    [nothing] = list(Sources(str(tmp_path / "*.png")))
    assert "no file matches this pattern" in nothing.error
    [missing] = list(Sources(str(tmp_path / "gone.jpg")))  # read (and reported) by the decoder
    assert missing.error is None and missing.image == str(tmp_path / "gone.jpg")


def test_urls_are_fetched_with_a_clear_error_each(image_server, photo_paths):
    sources = Sources([f"{image_server}/photo.jpg", f"{image_server}/missing", f"{image_server}/page",
                       f"{image_server}/big", f"{image_server}/big-chunked", "ftp://example.com/a.jpg"],
                      url_max_bytes=400000)
    photo, missing, page, big, chunked, ftp = list(sources)
    assert photo.error is None and photo.image == photo_paths[0].read_bytes()
    assert "HTTP 404" in missing.error and missing.name.endswith("/missing")
    assert "text/html, not an image" in page.error
    assert "500000 bytes is over the 400000-byte cap" in big.error
    assert "more than the 400000-byte cap" in chunked.error
    assert "only http:// and https:// URLs" in ftp.error


def test_an_unreachable_url_is_an_error_naming_it():
    with socket_closed() as port:
        with pytest.raises(SourceError, match=rf"127\.0\.0\.1:{port}/a\.jpg: cannot download it"):
            fetch_url(f"http://127.0.0.1:{port}/a.jpg", timeout=(2, 2))


def test_a_redirect_to_another_scheme_is_refused(image_server):
    with pytest.raises(SourceError, match=r"/to-file: cannot download it \(InvalidSchema"):
        fetch_url(f"{image_server}/to-file", timeout=(2, 2))


def test_a_url_dripping_bytes_stops_at_the_deadline(image_server):
    """The deadline is checked as bytes arrive, not only after each 64 kB (10 s of this body)."""
    start = time.monotonic()
    with pytest.raises(SourceError, match=r"/drip: the download took over 0\.3 s"):
        fetch_url(f"{image_server}/drip", timeout=(2, 2), deadline=0.3)
    assert time.monotonic() - start < 3


class socket_closed:
    """A local port nothing listens on."""

    def __enter__(self):
        import socket

        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        return self.port

    def __exit__(self, *exc):
        return False


def test_video_frames_are_keyed_by_index_and_time(tmp_path):
    rng = np.random.default_rng(0)
    frames = [np.full((48, 64, 3), 20 * k, np.uint8) + rng.integers(0, 5, (48, 64, 3), dtype=np.uint8)
              for k in range(7)]
    video = write_video(tmp_path / "clip.avi", frames)
    items = list(Sources([video]))
    assert [i.frame for i in items] == list(range(7)) and items[0].name == str(video)
    assert [round(i.time, 3) for i in items] == [round(k / 6, 3) for k in range(7)] and items[0].fps == 6.0
    assert all(np.abs(i.image.astype(int) - f).mean() < 3 for i, f in zip(items, frames))  # RGB, not BGR
    strided = list(Sources([video], vid_stride=3))
    assert [i.frame for i in strided] == [0, 3, 6] and strided[0].fps == 2.0
    assert Sources([video]).count is None  # frames are not counted ahead
    [broken] = list(Sources([tmp_path / "nothing.mp4"]))
    assert "cannot open it as a video" in broken.error


def test_stdin_and_objects_pass_through(photo_paths):
    data = photo_paths[0].read_bytes()
    [item] = list(Sources("-", stdin=io.BytesIO(data)))
    assert item.name == "<stdin>" and item.image == data
    array = np.zeros((4, 4, 3), np.uint8)
    [passed] = list(Sources(array))
    assert passed.image is array and "array" in passed.name


def test_a_generator_of_inputs_is_read_lazily():
    taken = []

    def frames():
        for k in range(3):
            taken.append(k)
            yield np.full((4, 4, 3), k, np.uint8)

    sources = Sources(frames())
    assert taken == [] and sources.count is None
    first = next(iter(sources))
    assert taken == [0] and first.image[0, 0, 0] == 0


def test_a_data_sets_image_is_read_as_one_image_whatever_its_name(tmp_path):
    """Evaluation pairs results with image ids in order: an animated .gif (a video by its
    extension) or a name like a pattern must give one result, not one a frame or a match."""
    from PIL import Image

    from ssd_resnet50.inference.evaluation import detect_images, load_ground_truth
    from ssd_resnet50.inference.results import ImageResult

    frames = [Image.new("RGB", (32, 24), (80 * k, 0, 0)) for k in range(3)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=100)
    assert len(list(Sources([tmp_path / "anim.gif"]))) == 3  # as a source named by a user: a frame each
    (tmp_path / "b.jpg").write_bytes(b"x")

    class Named:
        """Answers each image with its name: which result went to which image id shows."""

        batch_size = 4

        def detect_batch(self, images, exif=None):
            return [ImageResult(source=item.name, error=item.name) for item in Sources(images)]

    ground_truth = load_ground_truth({"images": [{"id": k, "file_name": name, "width": 32, "height": 24}
                                                 for k, name in enumerate(("anim.gif", "*.jpg", "b.jpg"), 1)],
                                      "annotations": [], "categories": [{"id": 1, "name": "person"}]})
    _, done, failed = detect_images(Named(), ground_truth, str(tmp_path), [1, 2, 3], no_progress=True)
    assert done == [] and failed == [(k, str(tmp_path / name)) for k, name in
                                     enumerate(("anim.gif", "*.jpg", "b.jpg"), 1)]
    [item] = list(Sources([image_file(tmp_path / "anim.gif")]))
    assert item.image == item.name == str(tmp_path / "anim.gif") and item.error is None
