"""Detection results to files, each as soon as its image is done (what `ssd-resnet50 detect` writes).

    with DetectionWriter("out", save_txt=True) as writer:
        for result in detector.iter_detect("photos/", keep_images=True):
            writer.write(result)

In `out`: `detections.jsonl`, a line an image, written and flushed when the image is done (so a
run killed part-way keeps every finished image), then `detections.json`, the COCO results list,
made from it at the end; `<name>.png` with the boxes drawn (a video gets `<name>.mp4`, its frames
drawn, at its frame rate divided by the stride); `labels/<name>.txt` in YOLO's format (`class
x_center y_center width height [score]`, normalised; class = label - 1); and
`crops/<class>/<name>_<k>.jpg`, each detection cut out. Nothing is kept in memory but file names.
"""
import json
import math
import os
import re
import urllib.parse

import cv2
import numpy as np

from .visualize import draw_detections

JSONL_NAME = "detections.jsonl"
JSON_NAME = "detections.json"
VIDEO_CODECS = (("mp4v", ".mp4"), ("MJPG", ".avi"))  # the first OpenCV's build can write
MAX_NAME_BYTES = 150  # of a name from an input; file systems allow 255, the rest is for _2, _<frame>_<k>.jpg


class DetectionWriter:
    """Writes each `ImageResult` given to `write` (see the module docstring); `close()` ends
    the videos and writes `detections.json`. Results without an image (unreadable) are skipped."""

    def __init__(self, out_dir, *, draw=True, save_txt=False, save_conf=False, save_crops=False):
        self.out_dir = os.fspath(out_dir)
        self.draw, self.save_txt, self.save_conf, self.save_crops = draw, save_txt, save_conf, save_crops
        os.makedirs(self.out_dir, exist_ok=True)
        self.jsonl_path = os.path.join(self.out_dir, JSONL_NAME)
        self.json_path = os.path.join(self.out_dir, JSON_NAME)
        self._jsonl = open(self.jsonl_path, "w", encoding="utf-8")
        self._taken = set()
        self._video = None  # (source, cv2.VideoWriter, path, stem) of the video being written

    @property
    def needs_images(self) -> bool:
        """Whether results must carry their decoded image (`keep_images=True`)."""
        return self.draw or self.save_crops

    def write(self, result):
        """Write one result's files; returns the picture or video path (None when not drawn)."""
        if not result.ok:
            return None
        in_video = result.frame is not None
        if in_video:
            stem = self._video_stem(result)
            name = self._unique(f"{stem}_{result.frame}", "")
        else:
            self._end_video()
            stem = name = self._unique(_stem(result.source), ".png", "")
        entry = result.to_dict()
        entry["image_id"] = int(name) if name.isdigit() else name
        self._jsonl.write(json.dumps(entry) + "\n")
        self._jsonl.flush()
        if self.save_txt:
            self._write_txt(name, result)
        if self.save_crops:
            self._write_crops(name, result)
        if not self.draw:
            return None
        drawn = draw_detections(result.image, result.detections)
        if in_video:
            self._video[1].write(cv2.cvtColor(np.asarray(drawn), cv2.COLOR_RGB2BGR))
            return self._video[2]
        path = os.path.join(self.out_dir, stem + ".png")
        drawn.save(path)
        return path

    def close(self):
        """End the open video and write `detections.json` (COCO results with the category name,
        file name and, for videos, frame) from `detections.jsonl`, reading it a line at a time."""
        self._end_video()
        if self._jsonl.closed:
            return
        self._jsonl.close()
        with open(self.jsonl_path, encoding="utf-8") as lines, open(self.json_path, "w", encoding="utf-8") as out:
            out.write("[")
            first = True
            for line in lines:
                entry = json.loads(line)
                extra = {"file_name": entry["file_name"]}
                if "frame" in entry:
                    extra["frame"] = entry["frame"]
                for det in entry["detections"]:
                    coco = {"image_id": entry["image_id"], "category_id": det["category_id"], "bbox": det["bbox"],
                            "score": det["score"], "category_name": det["category_name"], **extra}
                    out.write(("\n" if first else ",\n") + json.dumps(coco))
                    first = False
            out.write("\n]\n")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _unique(self, base, *suffixes) -> str:
        """base, or base_2, base_3, ...: photos of the same name from two folders. Suffix "" is
        the bare name (labels/NAME.txt, crops, image_id), which an image and a video's frame
        (clip_3.jpg, frame 3 of clip.mp4) must not share."""
        stem, count = base, 1
        while any(stem + suffix in self._taken for suffix in suffixes):
            count += 1
            stem = f"{base}_{count}"
        self._taken.update(stem + suffix for suffix in suffixes)
        return stem

    def _video_stem(self, result) -> str:
        if self._video is not None and self._video[0] == result.source and result.frame != 0:
            return self._video[3]
        self._end_video()
        height, width = result.image_hw
        fps = result.fps or 25.0
        for fourcc, suffix in VIDEO_CODECS:
            stem = self._unique(_stem(result.source), suffix)
            path = os.path.join(self.out_dir, stem + suffix)
            writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*fourcc), fps, (width, height)) \
                if self.draw else None
            if writer is None or writer.isOpened():
                self._video = (result.source, writer, path, stem)
                return stem
        raise OSError(f"{path}: OpenCV cannot write a video here (no codec among "
                      f"{', '.join(code for code, _ in VIDEO_CODECS)})")

    def _end_video(self):
        if self._video is not None and self._video[1] is not None:
            self._video[1].release()
        self._video = None

    def _write_txt(self, name, result):
        height, width = result.image_hw
        folder = os.path.join(self.out_dir, "labels")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, name + ".txt"), "w") as f:
            for det in result.detections:
                x, y, w, h = det.box
                fields = [f"{det.label - 1}", f"{(x + w / 2) / width:.6f}", f"{(y + h / 2) / height:.6f}",
                          f"{w / width:.6f}", f"{h / height:.6f}"]
                if self.save_conf:
                    fields.append(f"{det.score:.5f}")
                f.write(" ".join(fields) + "\n")

    def _write_crops(self, name, result):
        for k, det in enumerate(result.detections):
            x0, y0, x1, y1 = crop_bounds(det.box, result.image_hw)
            if x1 <= x0 or y1 <= y0:
                continue
            folder = os.path.join(self.out_dir, "crops", safe_name(det.category_name, "class"))
            os.makedirs(folder, exist_ok=True)
            crop = np.ascontiguousarray(result.image[y0:y1, x0:x1, ::-1])  # RGB -> BGR for OpenCV
            cv2.imwrite(os.path.join(folder, f"{name}_{k}.jpg"), crop)


def crop_bounds(box, image_hw) -> tuple:
    """(x0, y0, x1, y1) whole pixels of an (x, y, w, h) box inside an image of (height, width)."""
    height, width = image_hw
    x, y, w, h = box
    x0, y0 = max(0, math.floor(x + 0.5)), max(0, math.floor(y + 0.5))
    return x0, y0, min(width, math.floor(x + w + 0.5)), min(height, math.floor(y + h + 0.5))


def safe_name(text, fallback="image") -> str:
    """A file or folder name from untrusted text: letters, digits, spaces and `._-` only, never
    `.`, `..` or hidden, and short enough (with the suffixes added to it) for a file system."""
    name = re.sub(r"[^\w .-]+", "_", str(text)).strip("._ ")
    name = name.encode()[:MAX_NAME_BYTES].decode(errors="ignore").rstrip("._ ")
    return name or fallback


def _stem(source) -> str:
    """The name an input's files get: the file's or the URL's base name without extension."""
    path = urllib.parse.urlsplit(source).path if "://" in source else source
    return safe_name(os.path.splitext(os.path.basename(path.rstrip("/\\")))[0])
