"""A run's record in its output folder: `history.jsonl` and `metrics.csv`.

`history.jsonl` gets a line a step ({"step", "epoch", "loss", "class_loss", "box_loss", "lr"})
and a line an evaluation ({"evaluation", "step", "epoch", "AP", "AP50", ..., "loss", "seconds",
...}: the validation metrics beside the mean training loss since the previous evaluation).
A resumed run appends to it, and may log again steps that a killed run logged after its last
checkpoint: readers keep the latest record of a step. `metrics.csv` is a table of the
evaluations (a row each), rewritten from the history after every evaluation.
"""
import csv
import json
import os

from ..inference.evaluation import METRIC_NAMES

HISTORY_FILE = "history.jsonl"
METRICS_FILE = "metrics.csv"
LOSS_TERMS = ("loss", "class_loss", "box_loss")
EVALUATION_COLUMNS = ("evaluation", "epoch", "step", *LOSS_TERMS, "lr", *METRIC_NAMES, "seconds", "train_seconds")


class RunHistory:
    """Appends step and evaluation records to `directory`/history.jsonl (flushed a line at a time)."""

    def __init__(self, directory):
        self.directory = directory
        self.file = open(os.path.join(directory, HISTORY_FILE), "a")

    def step(self, record: dict):
        self._write(record)

    def evaluation(self, record: dict):
        self._write(record)
        write_metrics_csv(self.directory)

    def _write(self, record):
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()

    def close(self):
        self.file.close()


def read_history(directory):
    """(step records, evaluation records) of a run, each in step order, the latest record of a
    step (or evaluation) winning; a line cut short by a kill is skipped."""
    steps, evaluations = {}, {}
    path = os.path.join(directory, HISTORY_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no training history here (is it a run's --out folder?)")
    with open(path) as f:
        for line in f:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if not isinstance(record, dict) or "step" not in record:
                continue
            (evaluations if "evaluation" in record else steps)[record["step"]] = record
    return [steps[k] for k in sorted(steps)], [evaluations[k] for k in sorted(evaluations)]


def write_metrics_csv(directory):
    """`metrics.csv`: one row an evaluation, the columns of EVALUATION_COLUMNS."""
    _, evaluations = read_history(directory)
    path = os.path.join(directory, METRICS_FILE)
    partial = path + ".partial"
    with open(partial, "w", newline="") as f:
        writer = csv.DictWriter(f, EVALUATION_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(evaluations)
    os.replace(partial, path)
