"""Training: schedule, optimizer groups, the clipped step, start weights, resume, a short fine-tune."""
import contextlib
import glob
import io
import json
import logging
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import mindspore as ms
from mindspore import nn

from ssd_resnet50.model.checkpoint import CheckpointMismatch
from ssd_resnet50.model.network import create_network
from ssd_resnet50.training.optim import TrainStep, default_init_lr, learning_rates, parameter_groups
from ssd_resnet50.cli import main as cli_main
from ssd_resnet50.training.history import read_history
from ssd_resnet50.training.loop import (CLASS_HEAD_PREFIX, CheckpointWriter, latest_checkpoint, load_start_weights,
                                        restore_newest)
from tests.ssd_resnet50.synthetic import make_shapes_dataset


def test_learning_rate_warms_up_linearly_from_lr_init_then_decays_along_a_cosine():
    # the original's get_lr: warm-up step i of W gets lr_init + (lr - lr_init) * i / W
    rates = learning_rates(0.1, steps_per_epoch=5, epochs=12, warmup_epochs=2, init_lr=0.02)
    assert rates.shape == (60,) and rates.dtype == np.float32
    np.testing.assert_allclose(rates[:10], 0.02 + 0.08 * np.arange(10) / 10, rtol=1e-6)
    decay = rates[10:]
    assert decay[0] == pytest.approx(0.1) and (np.diff(decay) < 0).all() and decay[-1] < 1e-3
    np.testing.assert_allclose(decay[25], 0.05, rtol=1e-5)  # half-way down the cosine
    with pytest.raises(ValueError):
        learning_rates(0.1, steps_per_epoch=0, epochs=3, warmup_epochs=1)
    with pytest.raises(ValueError):
        learning_rates(0.1, steps_per_epoch=5, epochs=3, warmup_epochs=1, init_lr=-0.01)


def test_warm_up_starts_where_the_original_did():
    # the original: lr_init 0.01333 at its lr 0.05; other peaks start at the same fraction
    assert default_init_lr(0.05) == pytest.approx(0.01333)
    assert learning_rates(0.05, steps_per_epoch=4, epochs=3, warmup_epochs=2)[0] == pytest.approx(0.01333)
    assert learning_rates(0.01, steps_per_epoch=4, epochs=3, warmup_epochs=2)[0] == pytest.approx(0.002666)
    no_warmup = learning_rates(0.05, steps_per_epoch=4, epochs=3, warmup_epochs=0)
    assert no_warmup[0] == pytest.approx(0.05)


def test_weight_decay_spares_batch_norm_only():
    # DESIGN.md: weight decay 4e-4, not on BN gamma/beta (biases decay, as MindSpore's default filter does)
    network = create_network(is_training=True, num_classes=3, image_size=64)
    decayed, plain, order = parameter_groups(network, 4e-4)
    assert decayed["weight_decay"] == 4e-4 and plain["weight_decay"] == 0.0
    names = {p.name for p in decayed["params"]}, {p.name for p in plain["params"]}
    assert not names[0] & names[1]
    assert names[0] | names[1] == {p.name for p in network.trainable_params()} == {p.name for p in order["order_params"]}
    assert all(name.rsplit(".", 1)[1] in ("weight", "bias") for name in names[0])
    assert all(name.rsplit(".", 1)[1] in ("gamma", "beta") for name in names[1])
    assert "network.multi_box.multi_cls_layers.0.3.bias" in names[0]
    assert "network.feature_extractor.resnet.conv1.weight" in names[0]
    assert "network.feature_extractor.resnet.bn1.gamma" in names[1]


class SquaredError(nn.Cell):
    def __init__(self, layer):
        super().__init__(auto_prefix=False)
        self.layer = layer

    def construct(self, x, y):
        return ((self.layer(x) - y) ** 2).sum()


@pytest.mark.parametrize("clip_norm", [0.5, 1e6])
def test_train_step_unscales_then_clips_the_gradient(clip_norm):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(4, 3)).astype(np.float32), rng.normal(size=(4, 2)).astype(np.float32)
    layer = nn.Dense(3, 2)
    w0, b0 = layer.weight.asnumpy().copy(), layer.bias.asnumpy().copy()
    step = TrainStep(SquaredError(layer), nn.Momentum(layer.trainable_params(), 0.1, 0.0), 1024.0, clip_norm)
    loss = float(step(ms.Tensor(x), ms.Tensor(y)).asnumpy())
    residual = x @ w0.T + b0 - y
    assert loss == pytest.approx((residual ** 2).sum(), rel=1e-5)
    grad_w, grad_b = 2 * residual.T @ x, 2 * residual.sum(0)
    factor = min(1.0, clip_norm / np.sqrt((grad_w ** 2).sum() + (grad_b ** 2).sum()))
    np.testing.assert_allclose(layer.weight.asnumpy(), w0 - 0.1 * factor * grad_w, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(layer.bias.asnumpy(), b0 - 0.1 * factor * grad_b, rtol=1e-4, atol=1e-6)


def small_train_step(seed=0):
    """A TrainStep over one Dense layer: parameters, moments, global_step, learning_rate."""
    ms.set_seed(seed)
    layer = nn.Dense(3, 2)
    return TrainStep(SquaredError(layer), nn.Momentum(layer.trainable_params(), ms.Tensor(np.full(4, 0.1, np.float32)),
                                                     0.9), 1.0, 1e6)


def take_steps(train_step, count):
    rng = np.random.default_rng(count)
    for _ in range(count):
        train_step(ms.Tensor(rng.normal(size=(4, 3)).astype(np.float32)),
                   ms.Tensor(rng.normal(size=(4, 2)).astype(np.float32)))


def test_a_save_cut_short_leaves_no_checkpoint_under_its_name(tmp_path, monkeypatch):
    writer = CheckpointWriter(str(tmp_path), keep=5)
    train_step = small_train_step()
    first = writer.save(train_step, 1, 1)

    def killed_while_writing(cell, path):  # what a kill in the middle of ms.save_checkpoint leaves
        with open(path, "wb") as f:
            f.write(open(first, "rb").read()[:100])
        raise KeyboardInterrupt

    monkeypatch.setattr(ms, "save_checkpoint", killed_while_writing)
    with pytest.raises(KeyboardInterrupt):
        writer.save(train_step, 1, 2)
    assert latest_checkpoint(str(tmp_path)) == first
    assert sorted(os.listdir(tmp_path)) == ["last.ckpt", "ssd_resnet50-1_1.ckpt"]
    assert open(tmp_path / "last.ckpt", "rb").read() == open(first, "rb").read()  # the last complete save


def test_resume_auto_passes_over_damaged_newer_checkpoints(tmp_path, caplog):
    saved = small_train_step(seed=1)
    take_steps(saved, 2)
    good = CheckpointWriter(str(tmp_path), keep=5).save(saved, 1, 2)
    data = open(good, "rb").read()
    with open(tmp_path / "ssd_resnet50-1_4.ckpt", "wb") as f:  # cut short in the middle of a tensor
        f.write(data[:len(data) // 2])
    # cut short between tensors: it reads, but a tensor is missing
    ms.save_checkpoint([{"name": p.name, "data": p} for p in saved.get_parameters()][:1],
                       str(tmp_path / "ssd_resnet50-2_6.ckpt"))

    resumed = small_train_step(seed=2)
    with caplog.at_level(logging.WARNING, logger="ssd_resnet50.training.loop"):
        path, step = restore_newest(resumed, str(tmp_path))
    assert (path, step) == (good, 2)
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 2 and "ssd_resnet50-2_6.ckpt" in warned[0] and "ssd_resnet50-1_4.ckpt" in warned[1]
    for name, param in {p.name: p for p in saved.get_parameters()}.items():
        if name != "learning_rate":
            np.testing.assert_array_equal({p.name: p for p in resumed.get_parameters()}[name].asnumpy(),
                                          param.asnumpy(), err_msg=name)

    os.remove(good)
    with pytest.raises(FileNotFoundError, match="none of the 2 ssd_resnet50-"):
        restore_newest(small_train_step(), str(tmp_path))


def test_keep_counts_the_checkpoints_of_an_earlier_run(tmp_path):
    train_step = small_train_step()
    earlier = CheckpointWriter(str(tmp_path), keep=10)
    for step in (2, 4, 10):
        earlier.save(train_step, step // 2, step)
    resumed = CheckpointWriter(str(tmp_path), keep=2)  # a resumed run with --keep 2
    resumed.save(train_step, 6, 12)
    assert sorted(os.listdir(tmp_path)) == ["last.ckpt", "ssd_resnet50-5_10.ckpt", "ssd_resnet50-6_12.ckpt"]
    resumed.save(train_step, 7, 14)
    assert sorted(os.listdir(tmp_path)) == ["last.ckpt", "ssd_resnet50-6_12.ckpt", "ssd_resnet50-7_14.ckpt"]
    assert not glob.glob(str(tmp_path / ".*"))


def test_start_weights_load_everything_but_new_class_heads(fixture_checkpoint, fixture_params):
    network = create_network(is_training=True, num_classes=3, image_size=64)
    fresh = {p.name: p.asnumpy().copy() for p in network.get_parameters() if p.name.startswith(CLASS_HEAD_PREFIX)}
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        skipped = load_start_weights(network, fixture_checkpoint)
    assert "start afresh" in output.getvalue()
    assert sorted(skipped) == sorted(f"{CLASS_HEAD_PREFIX}{level}.3.{leaf}" for level in range(5)
                                     for leaf in ("weight", "bias"))
    for param in network.get_parameters():
        if param.name in skipped:
            np.testing.assert_array_equal(param.asnumpy(), fresh[param.name])
        else:
            np.testing.assert_array_equal(param.asnumpy(), fixture_params[param.name])


def test_start_weights_missing_a_tensor_is_an_error(fixture_params, tmp_path):
    missing = "network.feature_extractor.resnet.layer2.1.bn2.gamma"
    path = str(tmp_path / "partial.ckpt")
    ms.save_checkpoint([{"name": n, "data": ms.Tensor(a)} for n, a in fixture_params.items() if n != missing], path)
    network = create_network(is_training=True, num_classes=3, image_size=64)
    with pytest.raises(CheckpointMismatch, match=missing.replace(".", r"\.")):
        load_start_weights(network, path)


def test_cli_refuses_what_does_not_fit(shapes_coco, tmp_path, capsys):
    annotations, images = shapes_coco
    common = ["train", "--annotations", annotations, "--images", images, "--image-size", "32", "--out", str(tmp_path),
              "--batch-size", "2"]
    assert cli_main(common + ["--num-classes", "81"]) == 1
    assert "--num-classes 81 does not fit the 3 classes" in capsys.readouterr().err
    assert cli_main(common + ["--resume", "auto"]) == 1
    assert "no ssd_resnet50-*.ckpt" in capsys.readouterr().err
    assert cli_main(common + ["--batch-size", "64"]) == 1
    assert "no full batch of 64" in capsys.readouterr().err
    assert cli_main(common + ["--classes", "hexagon"]) == 1
    assert "unknown classes" in capsys.readouterr().err


@pytest.mark.slow
def test_resume_continues_exactly_where_the_run_stopped(shapes_coco, tmp_path):
    annotations, images = shapes_coco
    common = ["train", "--annotations", annotations, "--images", images, "--image-size", "64", "--batch-size", "2",
              "--epochs", "2", "--lr", "0.02", "--no-augment", "--seed", "3", "--log-every", "1", "--keep", "1"]
    straight, stopped = str(tmp_path / "straight"), str(tmp_path / "stopped")
    assert cli_main(common + ["--out", straight, "--max-steps", "3"]) == 0
    assert cli_main(common + ["--out", stopped, "--max-steps", "1"]) == 0
    assert os.path.basename(latest_checkpoint(stopped)) == "ssd_resnet50-1_1.ckpt"
    saved = open(latest_checkpoint(stopped), "rb").read()
    with open(os.path.join(stopped, "ssd_resnet50-1_2.ckpt"), "wb") as f:  # a save cut short by a kill
        f.write(saved[:len(saved) // 2])
    assert cli_main(common + ["--out", stopped, "--max-steps", "3", "--resume", "auto"]) == 0  # passes over it

    expected = ms.load_checkpoint(latest_checkpoint(straight))
    resumed = ms.load_checkpoint(latest_checkpoint(stopped))
    assert sorted(os.listdir(stopped)) == ["history.jsonl", "labels.json", "last.ckpt", "ssd_resnet50-1_3.ckpt",
                                           "train_config.json"]  # --keep 1 counts the earlier files
    network_names = [p.name for p in create_network(is_training=True, num_classes=4, image_size=64).get_parameters()]
    assert set(network_names) <= set(resumed)
    assert {f"moments.{name}" for name in network_names if ".moving_" not in name} <= set(resumed)
    assert int(resumed["global_step"].asnumpy().reshape(-1)[0]) == 3
    assert set(expected) == set(resumed)
    for name, value in expected.items():
        np.testing.assert_allclose(resumed[name].asnumpy(), value.asnumpy(), rtol=1e-4, atol=1e-6, err_msg=name)
    losses = [json.loads(line)["loss"] for line in open(os.path.join(stopped, "history.jsonl"))]
    straight_losses = [json.loads(line)["loss"] for line in open(os.path.join(straight, "history.jsonl"))]
    np.testing.assert_allclose(losses, straight_losses, rtol=1e-4)


def average_precision_50(checkpoint_dir, annotations, images, image_size):
    """AP at IoU 0.5 of the run's last checkpoint on a COCO-format set, through the project's
    Detector and COCO evaluation (pycocotools)."""
    from ssd_resnet50.model.categories import load_label_set
    from ssd_resnet50.inference.detector import Detector
    from ssd_resnet50.evaluate import coco_metrics, detect_images, load_ground_truth

    labels = load_label_set(os.path.join(checkpoint_dir, "labels.json"))
    detector = Detector.from_checkpoint(latest_checkpoint(checkpoint_dir), image_size=image_size, labels=labels,
                                        backend="mindspore")
    truth = load_ground_truth(annotations)
    results, done, failed = detect_images(detector, truth, images, truth.getImgIds(), no_progress=True)
    assert not failed and results, "no detections at all"
    return coco_metrics(truth, results, done)["AP50"]


@pytest.mark.slow
def test_short_fine_tune_halves_the_loss_and_detects_its_shapes(fixture_checkpoint, tmp_path, subprocess_env):
    """From the fixture weights (81-class heads replaced by 3-class ones) on 32 generated images at
    128 px, without augmentation: 100 steps. From MindSpore's default initialisation the same run
    converges in training mode too, but its tiny activations leave BatchNorm's moving variance
    dominated by its initial 1.0 after so few steps, and inference mode then fails.

    It validates every epoch on 3 other generated images (a tenth of the training set) and
    prints what that costs next to the epoch's training time (the README quotes it)."""
    annotations, images = make_shapes_dataset(str(tmp_path / "shapes"), num_images=32, image_size=128, seed=11)
    val_annotations, val_images = make_shapes_dataset(str(tmp_path / "val"), num_images=3, image_size=128, seed=12)
    out = str(tmp_path / "run")
    command = [sys.executable, "-m", "ssd_resnet50", "train", "--annotations", annotations, "--images", images,
               "--weights", str(fixture_checkpoint), "--image-size", "128", "--batch-size", "8", "--epochs", "25",
               "--lr", "0.1", "--no-augment", "--seed", "1", "--out", out, "--save-every", "100000", "--keep", "1",
               "--log-every", "20", "--val-annotations", val_annotations, "--val-images", val_images]
    started = time.time()
    finished = subprocess.run(command, capture_output=True, text=True, timeout=1800, env=subprocess_env)
    assert finished.returncode == 0, finished.stdout[-2000:] + finished.stderr[-4000:]
    minutes = (time.time() - started) / 60
    steps, evaluations = read_history(out)
    losses = [record["loss"] for record in steps]
    assert len(losses) == 100 and len(evaluations) == 25
    before, after = np.mean(losses[:4]), np.mean(losses[-4:])
    ap50 = average_precision_50(out, annotations, images, 128)
    print(f"fine-tune: loss {before:.3f} -> {after:.3f}, AP50 {ap50:.3f} on its 32 images, {minutes:.1f} min")
    validation = [record["seconds"] for record in evaluations]
    epochs = [record["train_seconds"] for record in evaluations]
    print(f"validation of 3 images: first {validation[0]:.2f} s (compiles the graph), then median "
          f"{np.median(validation[1:]):.2f} s against a median training epoch of {np.median(epochs[1:]):.2f} s: "
          f"{100 * np.median(validation[1:]) / np.median(epochs[1:]):.0f}% (over all 25 epochs "
          f"{100 * sum(validation) / sum(epochs):.0f}%); validation AP50 {evaluations[-1]['AP50']:.3f}")
    assert after <= 0.5 * before
    assert ap50 >= 0.3
