"""Data-parallel training through MindSpore's launcher: two workers on this machine's CPU."""
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys

import mindspore as ms
import pytest

from ssd_resnet50.training.distributed import World, launched_by_msrun
from ssd_resnet50.training.history import read_history
from ssd_resnet50.training.loop import latest_checkpoint, weights_digest
from tests.ssd_resnet50.synthetic import make_shapes_dataset


def test_msrun_is_recognised_from_the_environment():
    assert not launched_by_msrun({})
    assert not launched_by_msrun({"MS_ROLE": "MS_WORKER"})
    assert launched_by_msrun({"MS_ROLE": "MS_WORKER", "MS_WORKER_NUM": "2"})
    assert launched_by_msrun({"MS_ROLE": "MS_SCHED", "MS_WORKER_NUM": "2"})
    alone = World()
    assert (alone.distributed, alone.is_main, alone.shard_count, alone.shard_id) == (False, True, None, None)
    second = World(rank=1, size=2)
    assert (second.distributed, second.is_main, second.shard_count, second.shard_id) == (True, False, 2, 1)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_two_workers(train_arguments, logs, env):
    """`msrun` with 2 workers of `python -m ssd_resnet50 train ARGUMENTS`; returns both workers' logs."""
    msrun = shutil.which("msrun", path=os.path.dirname(sys.executable)) or shutil.which("msrun")
    if msrun is None:
        pytest.skip("msrun (MindSpore's launcher) is not installed beside this interpreter")
    command = [msrun, "--worker_num=2", "--local_worker_num=2", f"--master_port={free_port()}",
               f"--log_dir={logs}", "--join=True", "python", "-m", "ssd_resnet50", "train", *train_arguments]
    launcher = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, start_new_session=True)
    try:
        output, _ = launcher.communicate(timeout=900)
    except subprocess.TimeoutExpired:  # a hung rendezvous must not outlive the test
        os.killpg(launcher.pid, signal.SIGKILL)
        output, _ = launcher.communicate()
    worker_logs = [(logs / f"worker_{rank}.log").read_text() if (logs / f"worker_{rank}.log").exists() else ""
                   for rank in range(2)]
    assert launcher.returncode == 0, output[-3000:] + "\n".join(log[-3000:] for log in worker_logs)
    return worker_logs


@pytest.mark.slow
def test_two_workers_train_in_step_and_rank_0_saves(tmp_path, subprocess_env):
    annotations, images = make_shapes_dataset(str(tmp_path / "shapes"), num_images=8, image_size=64, seed=5,
                                              sides=(0.3, 0.6))
    out, logs = tmp_path / "run", tmp_path / "logs"
    worker_logs = run_two_workers(
        ["--annotations", annotations, "--images", images, "--image-size", "64", "--batch-size", "2",
         "--epochs", "2", "--max-steps", "3", "--lr", "0.02", "--seed", "7", "--log-every", "1",
         "--out", str(out)], logs, subprocess_env)

    digests = []
    for rank, log in enumerate(worker_logs):
        assert f"rank {rank}/2: 8 images, 2 steps an epoch" in log  # each worker reads half
        digests.append(re.search(rf"rank {rank}: finished at step 3; trainable weights digest (\w+)", log).group(1))
    assert digests[0] == digests[1], "the workers' weights differ"
    first_losses = [re.search(r"step 1/3 loss ([\d.]+)", log).group(1) for log in worker_logs]
    assert first_losses[0] != first_losses[1], "both workers saw the same images"

    saved = sorted(os.path.basename(p) for p in glob.glob(str(out / "*.ckpt")))
    # epoch end and last step, rank 0 only; last.ckpt is the newest
    assert saved == ["last.ckpt", "ssd_resnet50-1_2.ckpt", "ssd_resnet50-2_3.ckpt"]
    params = ms.load_checkpoint(latest_checkpoint(str(out)))
    assert weights_digest({name: value.asnumpy() for name, value in params.items()}) == digests[0]
    assert int(params["global_step"].asnumpy().reshape(-1)[0]) == 3
    assert len(open(out / "history.jsonl").read().splitlines()) == 3
    assert json.loads((out / "train_config.json").read_text())["world_size"] == 2


@pytest.mark.slow
def test_two_workers_validate_their_shards_and_agree(tmp_path, subprocess_env):
    """Each worker detects half of the validation images; the detections are gathered, so both log
    the same metrics, take the same decisions, and rank 0 alone writes one best.ckpt."""
    annotations, images = make_shapes_dataset(str(tmp_path / "shapes"), num_images=12, image_size=64, seed=5,
                                              sides=(0.3, 0.6))
    out, logs = tmp_path / "run", tmp_path / "logs"
    worker_logs = run_two_workers(
        ["--annotations", annotations, "--images", images, "--image-size", "64", "--batch-size", "2",
         "--epochs", "2", "--lr", "0.02", "--seed", "7", "--val-split", "0.34", "--no-augment",
         "--out", str(out)], logs, subprocess_env)
    evaluations, digests = [], []
    for rank, log in enumerate(worker_logs):
        assert f"rank {rank}/2: 8 images, 2 steps an epoch" in log and "validating on 4 images" in log
        evaluations.append(re.findall(r"^(evaluation \d .*AP75 [\d.]+)", log, re.M))
        digests.append(re.search(rf"rank {rank}: finished at step 4; trainable weights digest (\w+)", log).group(1))
    assert len(evaluations[0]) == 2 and evaluations[0] == evaluations[1], evaluations
    assert digests[0] == digests[1], "the workers' weights differ"
    saved = sorted(os.path.basename(p) for p in glob.glob(str(out / "*.ckpt")))
    assert saved == ["best.ckpt", "last.ckpt", "ssd_resnet50-1_2.ckpt", "ssd_resnet50-2_4.ckpt"]
    params = ms.load_checkpoint(str(out / "last.ckpt"))
    assert weights_digest({name: value.asnumpy() for name, value in params.items()}) == digests[0]
    _, logged = read_history(str(out))  # rank 0's history: the metrics both logged
    assert [f"AP {record['AP']:.3f}  AP50 {record['AP50']:.3f}" in line
            for record, line in zip(logged, evaluations[0])] == [True, True]
