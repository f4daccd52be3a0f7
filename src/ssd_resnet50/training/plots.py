"""Pictures of a run: `results.png` (loss terms and learning rate per step, validation AP per
evaluation) and `val_predictions.png` (validation images with predicted and true boxes).

    >>> draw_results("runs/pets")                    # -> runs/pets/results.png (needs matplotlib)
    >>> draw_predictions(detector, val_source, "runs/pets/val_predictions.png")

`results.png` needs matplotlib (the optional extra `[plot]`); `plotting_available()` says whether
it is there, and a run without it logs one line instead of drawing. The predictions grid is
drawn with Pillow, always available.
"""
import importlib.util
import os
from dataclasses import replace

import numpy as np
from PIL import Image, ImageDraw

from ..inference.sources import image_file
from ..inference.visualize import draw_detections
from .history import read_history

RESULTS_FILE = "results.png"
PREDICTIONS_FILE = "val_predictions.png"
RESULTS_INCHES, RESULTS_DPI = (12, 6), 100  # 1200 x 600 pixels
PLOT_EXTRA_NOTE = "results.png not drawn: matplotlib is not installed (pip install 'ssd-resnet50-hub[plot]')"
TILE = 320  # pixels of the longer side of an image in the predictions grid
SHOWN_SCORE, SHOWN_PER_IMAGE = 0.25, 10  # predictions drawn: above this score, the best few
TRUTH_COLOUR = (255, 255, 255)


def plotting_available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def _smoothed(values, window):
    """Running mean over `window` values (shorter at the start), to read a noisy loss curve."""
    values = np.asarray(values, np.float64)
    sums = np.cumsum(np.insert(values, 0, 0.0))
    starts = np.maximum(np.arange(1, len(values) + 1) - window, 0)
    return (sums[1:] - sums[starts]) / (np.arange(1, len(values) + 1) - starts)


def draw_results(run_dir, out=None) -> str:
    """Draw `results.png` (or `out`) from the run's history.jsonl; returns its path.

    Panels: the loss and its two terms (focal classification, SmoothL1 box) per step, raw and
    smoothed; the learning rate per step; AP, AP50 and AP75 per evaluation; AR100 per evaluation.
    """
    import matplotlib

    matplotlib.use("Agg")  # files only, no screen
    from matplotlib import pyplot as plt

    steps, evaluations = read_history(run_dir)
    out = out or os.path.join(run_dir, RESULTS_FILE)
    figure, axes = plt.subplots(2, 3, figsize=RESULTS_INCHES, dpi=RESULTS_DPI)
    x = [record["step"] for record in steps]
    window = max(1, len(steps) // 50)
    for axis, key, title in zip(axes[0], ("loss", "class_loss", "box_loss"),
                                ("loss", "classification (focal)", "box (SmoothL1)")):
        values = [record.get(key, np.nan) for record in steps]
        axis.plot(x, values, color="tab:blue", alpha=0.3, linewidth=0.8, label="step")
        if steps:
            axis.plot(x, _smoothed(values, window), color="tab:blue", linewidth=1.5, label=f"mean of {window}")
        axis.set_title(title)
        axis.set_xlabel("step")
    axes[1][0].plot(x, [record.get("lr", np.nan) for record in steps], color="tab:green")
    axes[1][0].set_title("learning rate")
    axes[1][0].set_xlabel("step")
    epochs = [record["epoch"] for record in evaluations]
    for key, colour in (("AP", "tab:red"), ("AP50", "tab:orange"), ("AP75", "tab:purple")):
        axes[1][1].plot(epochs, [record[key] for record in evaluations], marker="o", color=colour, label=key)
    axes[1][1].set_title("validation AP" if evaluations else "validation AP (no evaluation yet)")
    axes[1][2].plot(epochs, [record["AR100"] for record in evaluations], marker="o", color="tab:brown")
    axes[1][2].set_title("validation AR100")
    for axis in axes[1][1:]:
        axis.set_xlabel("epoch")
    for axis in axes.flat:
        axis.grid(alpha=0.3)
    axes[1][1].legend(loc="lower right")
    figure.suptitle(os.path.basename(os.path.abspath(run_dir)))
    figure.tight_layout()
    partial = out + ".partial.png"
    figure.savefig(partial, dpi=RESULTS_DPI)
    plt.close(figure)
    os.replace(partial, out)
    return out


def draw_predictions(detector, source, out, count=8, columns=4) -> str:
    """A grid of the first `count` images of `source` with the detector's boxes (colours, names,
    scores above SHOWN_SCORE) and the true ones (white); returns `out`. The pixels are read as
    stored, without EXIF rotation, as the true boxes are (and as training and evaluation read them)."""
    tiles = []
    records = source.images[:count]
    files = [image_file(os.path.join(source.images_dir, record.file_name)) for record in records]
    for record, result in zip(records, detector.iter_detect(files, keep_images=True, exif=False)):
        if not result.ok:
            continue
        height, width = result.image.shape[:2]
        scale = TILE / max(height, width)  # drawn at the tile's size, so that captions stay readable
        image = Image.fromarray(result.image).resize((max(1, round(width * scale)), max(1, round(height * scale))))
        shown = sorted((d for d in result.detections if d.score >= SHOWN_SCORE), key=lambda d: -d.score)
        shown = [replace(d, box=tuple(v * scale for v in d.box)) for d in shown[:SHOWN_PER_IMAGE]]
        picture = draw_detections(np.asarray(image), shown)
        draw = ImageDraw.Draw(picture)
        for label, (x, y, w, h) in record.objects + record.ignored:
            draw.rectangle([x * scale, y * scale, (x + w) * scale, (y + h) * scale], outline=TRUTH_COLOUR, width=1)
        tiles.append(picture)
    if not tiles:
        raise ValueError(f"none of the first {count} validation images can be read")
    columns = min(columns, len(tiles))
    rows = -(-len(tiles) // columns)
    grid = Image.new("RGB", (columns * TILE, rows * TILE), (32, 32, 32))
    for index, tile in enumerate(tiles):
        grid.paste(tile, ((index % columns) * TILE, (index // columns) * TILE))
    partial = out + ".partial.png"
    grid.save(partial)
    os.replace(partial, out)
    return out
