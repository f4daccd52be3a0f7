"""MindSpore's own CPU speed with the installed version, with and without oneDNN capped to AVX2.

    python benchmarks/bench_mindspore_cpu.py [--repeats 3] [--save out.npz] [--reference other.npz]

MindSpore 2.9 and 2.10 run x86-64 convolutions with oneDNN's reference kernel on AVX-512 CPUs;
`ONEDNN_MAX_CPU_ISA=AVX2` is the fix that ssd_resnet50's warning suggests. oneDNN reads that
variable once a process, so each setting runs in a child process of its own: a 640x640 GRAPH
forward (batch 1) and a training step (batch 2, 320x320), medians, then the largest difference
of the forward outputs between the two settings. `--save` keeps the uncapped outputs, and
`--reference` compares them with a file saved under another MindSpore (say 2.8.0).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

from common import alternating_medians, fixture_checkpoint, machine

SETTINGS = {"default": None, "ONEDNN_MAX_CPU_ISA=AVX2": "AVX2"}


def measure(repeats: int, outputs: str) -> dict:
    """In this process: forward and train-step medians (seconds); the forward outputs to `outputs`."""
    import mindspore as ms

    from bench_backends import OtherLoad
    from ssd_resnet50.model.anchors import default_anchors
    from ssd_resnet50.model.checkpoint import load_weights
    from ssd_resnet50.model.config import DEFAULT_CONFIG
    from ssd_resnet50.model.network import create_network
    from ssd_resnet50.training.loss import SsdWithLoss
    from ssd_resnet50.training.optim import TrainStep, create_optimizer

    load = OtherLoad()
    network = create_network("ssd_resnet50")
    load_weights(network, fixture_checkpoint(os.path.join(tempfile.gettempdir(), "ssd_resnet50_fixture_seed0.ckpt")))
    network.set_train(False)
    forward = ms.jit(network.construct)
    x = ms.Tensor(np.random.default_rng(0).standard_normal((1, 3, 640, 640)).astype(np.float32))

    config = DEFAULT_CONFIG.with_options(image_size=320, num_classes=3)
    trainable = create_network(is_training=True, num_classes=3, image_size=320)
    step = TrainStep(SsdWithLoss(trainable, config), create_optimizer(trainable, [0.01] * 100, config),
                     config.loss_scale, config.grad_clip_norm)
    step.set_train()
    rng = np.random.default_rng(1)
    images = ms.Tensor(rng.standard_normal((2, 3, 320, 320)).astype(np.float32))
    anchors = len(default_anchors(config))
    loc_targets = ms.Tensor(rng.standard_normal((2, anchors, 4)).astype(np.float32) * 0.1)
    labels = ms.Tensor(rng.integers(0, 3, (2, anchors)).astype(np.int32))

    forward_s, step_s = alternating_medians([lambda: forward(x)[1].asnumpy(),
                                             lambda: step(images, loc_targets, labels).asnumpy()], repeats)
    boxes, scores = (t.asnumpy() for t in forward(x))
    np.savez(outputs, boxes=boxes, scores=scores, version=ms.__version__)
    return {"version": ms.__version__, "forward_s": forward_s, "step_s": step_s, "load": load.report()}


def run_child(setting, repeats, outputs) -> dict:
    environ = {k: v for k, v in os.environ.items() if k not in ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA")}
    if SETTINGS[setting]:
        environ["ONEDNN_MAX_CPU_ISA"] = SETTINGS[setting]
    done = subprocess.run([sys.executable, __file__, "--child", outputs, "--repeats", str(repeats)], env=environ,
                          capture_output=True, text=True, timeout=3600)
    if done.returncode:
        sys.exit(f"the {setting} run failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def max_difference(a: str, b: str) -> str:
    first, second = np.load(a), np.load(b)
    return (f"boxes {np.abs(first['boxes'] - second['boxes']).max():.1e}, "
            f"scores {np.abs(first['scores'] - second['scores']).max():.1e}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--save", help="keep the default setting's forward outputs in this .npz")
    parser.add_argument("--reference", help="compare the forward outputs with this .npz (from --save)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.repeats, args.child)))
        return
    print(f"machine: {machine()}; medians of {args.repeats}, each setting in a process of its own")
    work = tempfile.mkdtemp(prefix="bench_mindspore_cpu_")
    outputs = {setting: os.path.join(work, f"{i}.npz") for i, setting in enumerate(SETTINGS)}
    results = {setting: run_child(setting, args.repeats, outputs[setting]) for setting in SETTINGS}
    for setting, result in results.items():
        print(f"MindSpore {result['version']}, {setting}: forward 640x640 batch 1 {result['forward_s']:.2f} s, "
              f"train step 320x320 batch 2 {result['step_s']:.2f} s; {result['load']}")
    default, capped = (results[s] for s in SETTINGS)
    print(f"AVX2 cap / default: forward {capped['forward_s'] / default['forward_s']:.3f}, "
          f"train step {capped['step_s'] / default['step_s']:.3f}; outputs differ by at most "
          f"{max_difference(*outputs.values())}")
    if args.reference:
        for setting in SETTINGS:
            print(f"{setting} vs {args.reference} ({np.load(args.reference)['version']}): "
                  f"{max_difference(outputs[setting], args.reference)}")
    if args.save:
        os.replace(outputs["default"], args.save)


if __name__ == "__main__":
    main()
