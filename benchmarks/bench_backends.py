"""Every engine and precision side by side: MindSpore GRAPH, onnxruntime fp32, OpenVINO fp32, bf16, int8.

    python benchmarks/bench_backends.py [--repeats 5] [--threads N]

All run the same network with the shared fixture weights (the cost of the real ones), timed in
alternation (one call of each in turn) so that load from other processes hits all alike, at
batch 1 and 8, and end to end (`Detector.detect` of the shared photos). Prints medians, ratios to
onnxruntime fp32, GFLOP/s (80.8 GFLOP a 640x640 image), the machine and the load it saw. The
int8 model is quantized over the two shared photos (NNCF; cached in the temporary directory).
Targets (issue 12), batch 1: OpenVINO fp32 <= 0.9x, bf16 <= 0.5x, int8 <= 0.3x onnxruntime fp32.
"""
import argparse
import os
import tempfile
import time

import numpy as np

from common import SHARED, alternating_medians, fixture_checkpoint, machine
from ssd_resnet50.backends import make_backend
from ssd_resnet50.backends.cpu import available_cores
from ssd_resnet50.backends.openvino_backend import cpu_capabilities, import_nncf, import_openvino
from ssd_resnet50.inference.detector import Detector
from ssd_resnet50.model.checkpoint import load_network
from ssd_resnet50.optimize import quantize

PHOTOS = sorted((SHARED / "data" / "coco_val2017_sample").glob("*.jpg"))
GFLOP_PER_IMAGE = 80.8  # the network at 640x640
TARGETS = {"openvino fp32": 0.9, "openvino bf16": 0.5, "openvino int8": 0.3}


class OtherLoad:
    """CPU time that other processes spent while this one ran (from /proc/stat, Linux only)."""

    def __init__(self):
        self.start = self._sample()

    @staticmethod
    def _sample():
        try:
            with open("/proc/stat") as f:
                fields = [int(v) for v in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        busy = sum(fields) - fields[3] - fields[4]  # all but idle and iowait
        own = os.times()
        return time.perf_counter(), busy / os.sysconf("SC_CLK_TCK"), own.user + own.system

    def report(self) -> str:
        end = self._sample()
        if not (self.start and end):
            return "load from other processes: unknown"
        wall = end[0] - self.start[0]
        others = max(0.0, (end[1] - self.start[1]) - (end[2] - self.start[2]))
        return (f"other processes kept {others / wall:.2f} cores busy on average during the run "
                f"({'quiet' if others / wall < 0.2 else 'figures are noisy'})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="engine threads (default: available cores)")
    args = parser.parse_args()
    import mindspore as ms
    import onnxruntime as ort

    ov, nncf = import_openvino(), import_nncf()
    load = OtherLoad()
    print(f"machine: {machine()}; {available_cores()} cores available to this process; "
          f"OpenVINO reports {', '.join(cpu_capabilities())}")
    print(f"MindSpore {ms.__version__}, onnxruntime {ort.__version__}, OpenVINO {ov.__version__}, "
          f"NNCF {nncf.__version__}; medians of {args.repeats}, calls interleaved")
    temp = tempfile.gettempdir()
    checkpoint = fixture_checkpoint(os.path.join(temp, "ssd_resnet50_fixture_seed0.ckpt"))
    network = load_network(checkpoint)
    cache = os.path.join(temp, "ssd_resnet50_bench_models")
    started = time.perf_counter()
    int8 = quantize(network, [str(p) for p in PHOTOS], os.path.join(cache, "int8"), checkpoint=checkpoint,
                    cache_dir=cache)
    print(f"int8 model ({len(int8.calibration.inputs)} calibration photos): "
          f"{'reused' if int8.reused else 'quantized'} in {time.perf_counter() - started:.0f} s")
    common = dict(checkpoint=checkpoint, cache_dir=cache, threads=args.threads)
    backends = {
        "mindspore graph": make_backend("mindspore", network),
        "onnxruntime fp32": make_backend("onnxruntime", network, **common),
        "openvino fp32": make_backend("openvino", network, **common),
        "openvino bf16": make_backend("openvino", network, precision="bf16", **common),
        "openvino int8": make_backend("openvino", network, int8_model=int8.model.directory, **common),
    }
    reference = "onnxruntime fp32"

    print("forward 640x640 (pre-processed batch in, boxes and scores out):")
    for batch_size in (1, 8):
        batch = np.random.default_rng(0).standard_normal((batch_size, 3, 640, 640)).astype(np.float32)
        started = time.perf_counter()
        outputs = {name: backend(batch) for name, backend in backends.items()}  # warm-up: compile or load
        print(f"  batch {batch_size} (first calls, compiling or loading cached models: "
              f"{time.perf_counter() - started:.0f} s)")
        seconds = dict(zip(backends, alternating_medians([lambda b=b: b(batch) for b in backends.values()],
                                                         args.repeats, warmup=0)))
        for name, spent in seconds.items():
            per_image = spent / batch_size
            ratio = spent / seconds[reference]
            diff = (np.abs(outputs[name][0] - outputs[reference][0]).max(),
                    np.abs(outputs[name][1] - outputs[reference][1]).max())
            target = TARGETS.get(name) if batch_size == 1 else None
            verdict = f", target <= {target}: {'meets' if ratio <= target else 'MISSES'}" if target else ""
            print(f"    {name:<17} {1000 * per_image:6.0f} ms/image  ratio {ratio:4.2f}  "
                  f"{GFLOP_PER_IMAGE / per_image:5.0f} GFLOP/s  max diff vs {reference}: boxes {diff[0]:.1e}, "
                  f"scores {diff[1]:.1e}{verdict}")

    detectors = {name: Detector(network, backend=name.split()[0], precision=name.split()[1], **common)
                 for name in ("onnxruntime fp32", "openvino fp32", "openvino bf16")}
    detectors["openvino int8"] = Detector(network, backend="openvino", int8_model=int8.model.directory, **common)
    detectors["mindspore graph"] = Detector(network, backend="mindspore")
    photos = [str(p) for p in PHOTOS]
    for detector in detectors.values():
        detector.detect_batch(photos)
    seconds = dict(zip(detectors, alternating_medians([lambda d=d: d.detect_batch(photos) for d in detectors.values()],
                                                      args.repeats, warmup=0)))
    print(f"end-to-end detect of {len(photos)} photos (read, resize, forward, NMS), s an image:")
    for name, spent in seconds.items():
        print(f"    {name:<17} {spent / len(photos):.3f} s  ratio {spent / seconds[reference]:.2f}")
    print("  (stand-in weights score nearly every anchor above 0.1: NMS keeps 100 boxes in each class, a worst case)")
    print(load.report())


if __name__ == "__main__":
    main()
