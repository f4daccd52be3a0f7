"""Forward, end-to-end and post-processing time of SSD-ResNet50 on this machine.

    python benchmarks/bench_inference.py [--repeats 5]

Prints medians. Weights are the shared fixture weights (same cost as the real ones).
"""
import argparse
import os
import tempfile

import mindspore as ms
import numpy as np

from common import SHARED, alternating_medians, fixture_checkpoint, machine, median_seconds
from ssd_resnet50.inference.detector import Detector
from ssd_resnet50.inference.postprocess import postprocess
from ssd_resnet50.model.checkpoint import load_weights
from ssd_resnet50.model.network import create_network

PHOTO = SHARED / "data" / "coco_val2017_sample" / "000000439180.jpg"


def forward_ms_per_image(runs, batch, repeats):
    """ms an image of each way to run the network, timed side by side."""
    x = ms.Tensor(np.random.default_rng(0).standard_normal((batch, 3, 640, 640)).astype(np.float32))
    seconds = alternating_medians([lambda run=run: run(x)[1].asnumpy() for run in runs], repeats)
    return [1000 * s / batch for s in seconds]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {machine()}; MindSpore {ms.__version__}")
    checkpoint = fixture_checkpoint(os.path.join(tempfile.gettempdir(), "ssd_resnet50_fixture_seed0.ckpt"))
    network = create_network("ssd_resnet50")
    load_weights(network, checkpoint)
    network.set_train(False)

    graph = ms.jit(network.construct)
    for batch in (1, 8):
        graph_ms, pynative_ms = forward_ms_per_image([graph, network], batch, args.repeats)
        print(f"forward 640x640, batch {batch}: GRAPH {graph_ms:.0f} ms/image, PyNative {pynative_ms:.0f} ms/image")

    detector = Detector(network, backend="mindspore")
    detect_s = median_seconds(lambda: detector.detect(PHOTO), args.repeats)
    print(f"end-to-end detect of {PHOTO.name} (decode, resize, forward, NMS): {detect_s * 1000:.0f} ms")

    x = ms.Tensor(np.random.default_rng(1).standard_normal((1, 3, 640, 640)).astype(np.float32))
    boxes, scores = (t.asnumpy()[0] for t in graph(x))
    forward_s = forward_ms_per_image([graph], 1, args.repeats)[0] / 1000
    cases = [("worst case: fixture weights, nearly every anchor passes", scores)]
    for power in (9, 10):  # sharpen the scores until a realistic number passes
        cases.append((f"{int((scores[:, 1:] ** power > 0.1).sum())} boxes pass", scores ** power))
    for name, case in cases:
        post_s = median_seconds(lambda: postprocess(boxes, case, (480, 640)), args.repeats)
        print(f"post-processing, {name}: {post_s * 1000:.1f} ms = {100 * post_s / forward_s:.1f}% of the forward")


if __name__ == "__main__":
    main()
