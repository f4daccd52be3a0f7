"""End-to-end detect throughput over a folder, with and without the prefetch, beside forward-only.

    python benchmarks/bench_detect.py [--backend auto] [--batch-size 8] [--repeats 3]

A folder of 64 photos (copies of the two shared ones) goes through `Detector.iter_detect`
(decode, EXIF, resize, network, NMS) with the prefetch thread (the default) and without it;
the forward-only figure runs the same backend on an already pre-processed batch of the same
size. The three are timed interleaved in one run, so their ratios hold on a busy machine.
"""
import argparse
import os
import shutil
import tempfile

import numpy as np

from common import SHARED, alternating_medians, fixture_checkpoint, machine
from ssd_resnet50.inference.detector import Detector
from ssd_resnet50.inference.preprocess import preprocess

PHOTOS = [SHARED / "data" / "coco_val2017_sample" / name for name in ("000000439180.jpg", "000000142238.jpg")]
COUNT = 64


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--image-size", type=int, default=640)
    parser.add_argument("--score-threshold", type=float, default=0.8,
                        help="the stand-in weights score most anchors high; this keeps NMS near a real model's cost")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f} at the start")
    with tempfile.TemporaryDirectory() as scratch:
        folder = os.path.join(scratch, "photos")
        os.mkdir(folder)
        for k in range(COUNT):
            shutil.copy(PHOTOS[k % 2], os.path.join(folder, f"{k:03d}.jpg"))
        checkpoint = fixture_checkpoint(os.path.join(tempfile.gettempdir(), "ssd_resnet50_fixture_seed0.ckpt"))
        options = dict(image_size=args.image_size, backend=args.backend, score_threshold=args.score_threshold,
                       batch_size=args.batch_size)
        detector = Detector.from_checkpoint(checkpoint, **options)
        batch = np.stack([preprocess(PHOTOS[k % 2], detector.config)[0] for k in range(args.batch_size)])
        batches = -(-COUNT // args.batch_size)

        def end_to_end(prefetch):
            detector.prefetch = prefetch  # the same detector and backend, only the prefetch differs
            results = list(detector.iter_detect(folder))
            assert len(results) == COUNT and all(r.ok for r in results)
            return results

        detections = sum(len(r.detections) for r in end_to_end(2)) / COUNT
        with_prefetch, without_prefetch, forward = alternating_medians(
            [lambda: end_to_end(2), lambda: end_to_end(0), lambda: [detector.raw(batch) for _ in range(batches)]],
            args.repeats)
    backend = type(detector.backend).__name__
    forward_rate = batches * args.batch_size / forward
    print(f"{backend}, {args.image_size}x{args.image_size}, batch {args.batch_size}, {COUNT} photos, "
          f"{detections:.0f} detections an image, medians of {args.repeats}:")
    for name, seconds in (("end-to-end with prefetch", with_prefetch), ("end-to-end without prefetch",
                                                                        without_prefetch)):
        rate = COUNT / seconds
        print(f"  {name}: {rate:.2f} images/s = {rate / forward_rate:.2f}x forward-only")
    print(f"  forward only: {forward_rate:.2f} images/s")


if __name__ == "__main__":
    main()
