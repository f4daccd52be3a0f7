"""Validation while training: selection and patience, the run's history, best/last checkpoints,
plots, and short fine-tunes that validate (best.ckpt re-evaluated, early stop)."""
import json
import os
import struct
import subprocess
import sys

import mindspore as ms
import numpy as np
import pytest

from ssd_resnet50.cli import main as cli_main
from ssd_resnet50.training import plots, validation
from ssd_resnet50.training.history import RunHistory, read_history
from ssd_resnet50.training.loop import CheckpointWriter, TrainOptions
from ssd_resnet50.training.validation import Selection, gather_results
from tests.ssd_resnet50.synthetic import make_shapes_dataset
from tests.ssd_resnet50.test_train import small_train_step, take_steps


def evaluation(number, ap, **extra):
    return {"evaluation": number, "epoch": number, "step": 10 * number, "AP": ap, **extra}


def test_best_follows_any_rise_and_patience_a_rise_above_min_delta():
    selection = Selection("AP", patience=2, min_delta=0.01)
    assert selection.update(evaluation(1, 0.30))
    assert selection.update(evaluation(2, 0.305))  # a new best, but within min_delta: patience runs on
    assert (selection.best["evaluation"], selection.waited, selection.exhausted) == (2, 1, False)
    assert not selection.update(evaluation(3, 0.2))
    assert selection.exhausted and "did not rise by more than 0.01 in 2 evaluations" in selection.stop_reason()
    assert "best AP 0.3050 at evaluation 2" in selection.stop_reason()

    again = Selection("AP", patience=2, min_delta=0.01)
    for record in (evaluation(1, 0.30), evaluation(2, 0.29), evaluation(3, 0.32)):
        again.update(record)
    assert (again.best["evaluation"], again.waited, again.exhausted) == (3, 0, False)
    # a resumed run restores the state from its history
    resumed = Selection("AP", patience=2, min_delta=0.01, earlier=[evaluation(1, 0.30), evaluation(2, 0.29)])
    assert (resumed.count, resumed.waited, resumed.best["evaluation"]) == (2, 1, 1)
    assert not Selection("AP", patience=None).exhausted
    with pytest.raises(ValueError, match="unknown metric"):
        Selection("mAP")


def test_options_refuse_what_cannot_work(shapes_coco):
    annotations, images = shapes_coco
    with pytest.raises(ValueError, match="--patience counts evaluations: give a validation set"):
        TrainOptions(annotations, images, patience=3)
    with pytest.raises(ValueError, match="not both"):
        TrainOptions(annotations, images, val_split=0.1, val_annotations=annotations)
    with pytest.raises(ValueError, match="between 0 and 1"):
        TrainOptions(annotations, images, val_split=1.5)
    with pytest.raises(ValueError, match="unknown --best-metric"):
        TrainOptions(annotations, images, val_split=0.2, best_metric="mAP")


def test_history_keeps_the_latest_record_of_a_step_and_tables_the_evaluations(tmp_path):
    history = RunHistory(str(tmp_path))
    for step in (1, 2, 3):
        history.step({"step": step, "epoch": 1, "loss": float(step), "class_loss": 0.5, "box_loss": 0.5, "lr": 0.1})
    history.evaluation(evaluation(1, 0.25, loss=2.0))
    history.step({"step": 3, "epoch": 1, "loss": 9.0, "lr": 0.1})  # a resumed run logs step 3 again
    history.close()
    with open(tmp_path / "history.jsonl", "a") as f:
        f.write('{"step": 4, "lo')  # a line cut short by a kill
    steps, evaluations = read_history(str(tmp_path))
    assert [r["loss"] for r in steps] == [1.0, 2.0, 9.0]
    assert [r["AP"] for r in evaluations] == [0.25]
    rows = (tmp_path / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("evaluation,epoch,step,loss,class_loss,box_loss,lr,AP,AP50,AP75")
    assert rows[1].startswith("1,1,10,2.0,,,,0.25,") and len(rows) == 2


def png_size(path):
    with open(path, "rb") as f:
        header = f.read(24)
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", header[16:24])


def test_results_png_and_the_plot_command(tmp_path, capsys, monkeypatch):
    history = RunHistory(str(tmp_path))
    rng = np.random.default_rng(0)
    for step in range(1, 41):
        history.step({"step": step, "epoch": (step - 1) // 10 + 1, "loss": 10 / step + rng.random(),
                      "class_loss": 8 / step, "box_loss": 2 / step, "lr": 0.01})
        if step % 10 == 0:
            history.evaluation(evaluation(step // 10, 0.1 * step / 10, AP50=0.2, AP75=0.05, AR100=0.3))
    history.close()
    assert cli_main(["plot", str(tmp_path)]) == 0
    assert "results.png" in capsys.readouterr().out
    assert png_size(tmp_path / "results.png") == (1200, 600)
    assert cli_main(["plot", str(tmp_path), "--out", str(tmp_path / "again.png")]) == 0
    assert png_size(tmp_path / "again.png") == (1200, 600)

    assert cli_main(["plot", str(tmp_path / "nowhere")]) == 1
    assert "no training history here" in capsys.readouterr().err
    monkeypatch.setattr(plots, "plotting_available", lambda: False)
    monkeypatch.setattr("ssd_resnet50.cli.plot.plotting_available", lambda: False)
    assert cli_main(["plot", str(tmp_path)]) == 1
    assert "matplotlib is not installed (pip install 'ssd-resnet50-hub[plot]')" in capsys.readouterr().err


def test_best_and_last_are_the_saved_states(tmp_path):
    train_step = small_train_step()
    writer = CheckpointWriter(str(tmp_path), keep=1)
    first = writer.save(train_step, 1, 2)
    writer.save_best(train_step, 2)  # the state just saved: a link to it
    take_steps(train_step, 1)
    second = writer.save(train_step, 2, 3)
    assert not os.path.exists(first)  # rotated away; best.ckpt still holds that state
    take_steps(train_step, 1)
    writer.save_best(train_step, 4)  # a state of no rotating file: written
    best, last = ms.load_checkpoint(str(tmp_path / "best.ckpt")), ms.load_checkpoint(str(tmp_path / "last.ckpt"))
    newest = ms.load_checkpoint(second)
    for param in train_step.get_parameters():
        np.testing.assert_array_equal(best[param.name].asnumpy(), param.asnumpy())
        np.testing.assert_array_equal(last[param.name].asnumpy(), newest[param.name].asnumpy())
    assert sorted(os.listdir(tmp_path)) == ["best.ckpt", "last.ckpt", "ssd_resnet50-2_3.ckpt"]


def test_gathered_results_come_back_exactly(monkeypatch):
    # what crosses workers is int32 rows: boxes at 2 decimals and scores at 5, as COCO results carry them
    results = [{"image_id": 3, "category_id": 7, "bbox": [12.34, 0.01, 630.5, 99.99], "score": 0.12345},
               {"image_id": 1, "category_id": 3, "bbox": [0.0, 5.5, 1.25, 2.0], "score": 0.99999}]
    monkeypatch.setattr(validation, "all_gather_rows", lambda rows: np.concatenate([rows, rows]))
    gathered, done = gather_results(results, [3, 1])
    assert gathered == results + results
    assert done == [1, 1, 3, 3]


def run_training(arguments, env, timeout=1800):
    """`python -m ssd_resnet50 train ARGUMENTS` in a child process; its stdout."""
    finished = subprocess.run([sys.executable, "-m", "ssd_resnet50", "train", *arguments], capture_output=True,
                              text=True, timeout=timeout, env=env)
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-4000:]
    return finished.stdout


def evaluate_checkpoint(checkpoint, run_dir, images_dir, image_size):
    """AP of a checkpoint on the run's val.json, through Detector and the COCO evaluation of `eval`."""
    from ssd_resnet50.inference.detector import Detector
    from ssd_resnet50.inference.evaluation import coco_metrics, detect_images, load_ground_truth
    from ssd_resnet50.model.categories import load_label_set

    labels = load_label_set(os.path.join(run_dir, "labels.json"))
    detector = Detector.from_checkpoint(checkpoint, image_size=image_size, labels=labels, backend="mindspore")
    truth = load_ground_truth(os.path.join(run_dir, "val.json"))
    results, done, failed = detect_images(detector, truth, images_dir, truth.getImgIds(), no_progress=True)
    assert not failed
    return coco_metrics(truth, results, done)


@pytest.mark.slow
def test_fine_tune_with_a_validation_split_keeps_the_best_evaluation(fixture_checkpoint, tmp_path, subprocess_env):
    annotations, images = make_shapes_dataset(str(tmp_path / "shapes"), num_images=20, image_size=64, seed=6)
    out = str(tmp_path / "run")
    output = run_training(["--annotations", annotations, "--images", images, "--weights", str(fixture_checkpoint),
                           "--image-size", "64", "--batch-size", "4", "--epochs", "4", "--lr", "0.05",
                           "--no-augment", "--val-split", "0.2", "--seed", "2", "--out", out, "--keep", "1"],
                          subprocess_env)
    steps, evaluations = read_history(out)
    assert [r["evaluation"] for r in evaluations] == [1, 2, 3, 4] and len(steps) == 16
    assert [line.startswith(f"evaluation {n} (epoch {n}") for n, line in
            enumerate((l for l in output.splitlines() if l.startswith("evaluation ")), 1)] == [True] * 4
    assert all(0 <= r["AP"] <= 1 and "AP50" in r and "AP75" in r and r["loss"] > 0 for r in evaluations)
    best = max(evaluations, key=lambda r: r["AP"])  # the first of a tie
    config = json.loads(open(os.path.join(out, "train_config.json")).read())
    assert config["validation"]["images"] == 4 and config["stop_reason"] == "finished 4 epochs"

    metrics = evaluate_checkpoint(os.path.join(out, "best.ckpt"), out, images, 64)
    assert metrics["AP"] == pytest.approx(best["AP"], abs=1e-6)
    assert metrics["AP50"] == pytest.approx(best["AP50"], abs=1e-6)
    saved = ms.load_checkpoint(os.path.join(out, "best.ckpt"))
    assert int(saved["global_step"].asnumpy().reshape(-1)[0]) == best["step"]
    final = ms.load_checkpoint(os.path.join(out, "last.ckpt"))
    assert int(final["global_step"].asnumpy().reshape(-1)[0]) == 16
    assert evaluate_checkpoint(os.path.join(out, "last.ckpt"), out, images, 64)["AP"] == \
        pytest.approx(evaluations[-1]["AP"], abs=1e-6)
    assert png_size(os.path.join(out, "results.png")) == (1200, 600)
    width, height = png_size(os.path.join(out, "val_predictions.png"))
    assert (width, height) == (4 * plots.TILE, plots.TILE)  # the 4 validation images in a row
    assert len(open(os.path.join(out, "metrics.csv")).read().splitlines()) == 5
    # `eval` reproduces the logged AP from the files the run left
    assert cli_main(["eval", "--annotations", os.path.join(out, "val.json"), "--images", images, "--weights",
                     os.path.join(out, "best.ckpt"), "--labels", "square", "disc", "--image-size", "64",
                     "--backend", "mindspore", "--out", str(tmp_path / "results.json"), "--no-progress"]) == 0


@pytest.mark.slow
def test_patience_stops_a_run_that_does_not_learn(fixture_checkpoint, tmp_path, capsys, monkeypatch):
    """With a learning rate of 0 only BatchNorm's moving statistics change: the AP of the fresh
    class heads (about 0.01) moves by noise only, well below --min-delta 0.05, and --patience 1
    stops after the second evaluation. (In-process, without matplotlib: one line says so and no
    results.png is drawn.)"""
    annotations, images = make_shapes_dataset(str(tmp_path / "shapes"), num_images=10, image_size=48, seed=9)
    out = str(tmp_path / "run")
    monkeypatch.setattr("ssd_resnet50.training.loop.plotting_available", lambda: False)
    assert cli_main(["train", "--annotations", annotations, "--images", images, "--weights", str(fixture_checkpoint),
                     "--image-size", "48", "--batch-size", "4", "--epochs", "6", "--lr", "0", "--no-augment",
                     "--val-split", "0.2", "--patience", "1", "--min-delta", "0.05", "--out", out]) == 0
    output = capsys.readouterr().out
    _, evaluations = read_history(out)
    assert len(evaluations) == 2
    reason = json.loads(open(os.path.join(out, "train_config.json")).read())["stop_reason"]
    assert reason.startswith("early stop: AP did not rise by more than 0.05 in 1 evaluations (--patience 1)")
    assert reason in output
    assert output.count(plots.PLOT_EXTRA_NOTE) == 1 and not os.path.exists(os.path.join(out, "results.png"))
    assert os.path.exists(os.path.join(out, "best.ckpt")) and os.path.exists(os.path.join(out, "val_predictions.png"))
    final = ms.load_checkpoint(os.path.join(out, "last.ckpt"))
    assert int(final["global_step"].asnumpy().reshape(-1)[0]) == evaluations[-1]["step"] == 4


def test_val_predictions_are_drawn_on_the_pixels_as_stored(tmp_path):
    """The true boxes are in the stored pixels: an EXIF-rotated photo is not turned upright under them."""
    from PIL import Image

    from ssd_resnet50.inference.preprocess import load_rgb
    from ssd_resnet50.inference.results import ImageResult
    from ssd_resnet50.inference.sources import Sources
    from ssd_resnet50.training.datasets.source import ImageRecord

    class UprightByDefault:
        """Reads images as a Detector does (EXIF applied unless told not to); no network."""

        def iter_detect(self, images, keep_images=False, exif=None):
            for item in Sources(images):
                image = load_rgb(item.image, exif=True if exif is None else exif)
                yield ImageResult(source=item.name, image_hw=image.shape[:2], image=image)

    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned a quarter: 40 wide and 60 high upright
    Image.new("RGB", (60, 40), (255, 255, 255)).save(tmp_path / "wide.png", exif=exif.tobytes())
    source = type("Source", (), {"images": [ImageRecord("wide.png", 60, 40)], "images_dir": str(tmp_path)})
    out = plots.draw_predictions(UprightByDefault(), source, str(tmp_path / "val_predictions.png"))
    with Image.open(out) as grid:
        assert grid.getpixel((plots.TILE - 10, plots.TILE // 2 - 10)) == (255, 255, 255)  # wide, as stored
        assert grid.getpixel((10, plots.TILE - 10)) == (32, 32, 32)
