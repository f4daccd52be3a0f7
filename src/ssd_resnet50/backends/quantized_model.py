"""An int8 model on disk: what `ssd_resnet50.optimize.quantize` writes and the openvino backend runs.

    MODEL_DIR/model.xml, model.bin   the network quantized by NNCF, as OpenVINO IR (batch 1)
    MODEL_DIR/model.json             the sidecar: the files' sizes and sha256, the source weights,
                                     the calibration set's digest, the versions that made it

Rewriting a directory removes the sidecar first and writes it last, so a sidecar that checks out
vouches for complete files of one run; `read` refuses files that differ from it, and
`QuantizedModel.check_fits` a model made for other weights or another input size.
"""
import datetime
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass

from .errors import QuantizedModelError
from .model_cache import parameters_sha256

FORMAT = "ssd_resnet50 int8 model"
FORMAT_VERSION = 1
FILES = ("model.xml", "model.bin")
SIDECAR = "model.json"
REMAKE = "make it again with `ssd-resnet50 optimize --calibration-images DIR --out {directory}`"


def sidecar_path(directory) -> str:
    return os.path.join(os.fspath(directory), SIDECAR)


@dataclass
class QuantizedModel:
    """A checked int8 model directory: its sidecar (`info`) and the bytes that matched it."""

    directory: str
    info: dict
    files: dict  # name -> bytes

    @property
    def digest(self) -> str:
        """sha256 over the model files' sha256s: what identifies this model."""
        joined = "\n".join(self.info["files"][name]["sha256"] for name in FILES)
        return hashlib.sha256(joined.encode()).hexdigest()

    def read(self, core):
        """The model as an `ov.Model`, from the bytes that were checked."""
        return core.read_model(model=self.files["model.xml"], weights=self.files["model.bin"])

    def check_fits(self, network, weights_id: str):
        """QuantizedModelError unless this model was made from `network`'s weights and size."""
        config, made = network.config, self.info.get("network", {})
        wanted = {"image_size": list(config.image_size), "num_classes": config.num_classes}
        found = {key: made.get(key) for key in wanted}
        if found != wanted:
            raise QuantizedModelError(f"{self.directory} holds a model for {found}, not for this network's "
                                      f"{wanted}; {REMAKE.format(directory=self.directory)}")
        weights = self.info.get("weights", {})
        if weights.get("id") != weights_id and weights.get("parameters_sha256") != parameters_sha256(network):
            raise QuantizedModelError(
                f"{self.directory} was quantized from other weights (id {str(weights.get('id'))[:24]}, not "
                f"{weights_id[:24]}); give the checkpoint it was made from, or quantize this one: "
                f"{REMAKE.format(directory=self.directory)}")


def read(directory) -> QuantizedModel:
    """The int8 model in `directory`, its files checked against the sidecar; QuantizedModelError
    (naming the directory, what is wrong and how to remake it) otherwise."""
    directory = os.path.abspath(os.fspath(directory))
    remake = REMAKE.format(directory=directory)
    if not os.path.isdir(directory):
        raise QuantizedModelError(f"int8 model directory not found: {directory}; {remake}")
    try:
        with open(sidecar_path(directory)) as f:
            info = json.load(f)
    except (OSError, ValueError) as error:
        raise QuantizedModelError(f"{directory}: its sidecar {SIDECAR} is missing or unreadable ({error}); "
                                  f"{remake}") from error
    if not isinstance(info, dict) or info.get("format") != FORMAT or info.get("format_version") != FORMAT_VERSION:
        raise QuantizedModelError(f"{directory}: {SIDECAR} does not describe an {FORMAT} of format version "
                                  f"{FORMAT_VERSION}; {remake}")
    files = {}
    for name in FILES:
        try:
            record = info["files"][name]
            size, sha256 = int(record["size"]), str(record["sha256"])
        except (KeyError, TypeError, ValueError) as error:
            raise QuantizedModelError(f"{directory}: {SIDECAR} has no size and sha256 for {name}; {remake}") from error
        try:
            with open(os.path.join(directory, name), "rb") as f:
                data = f.read()
        except OSError as error:
            raise QuantizedModelError(f"{directory}: cannot read {name} ({error}); {remake}") from error
        if len(data) != size or hashlib.sha256(data).hexdigest() != sha256:
            why = f"{len(data)} bytes where {size} were written" if len(data) != size else "its sha256 differs"
            raise QuantizedModelError(f"{directory}: {name} is damaged or altered ({why} from {SIDECAR}); the "
                                      f"quantized model is refused; {remake}")
        files[name] = data
    return QuantizedModel(directory, info, files)


def write(directory, model, info: dict, save_model) -> QuantizedModel:
    """Write `model` (an `ov.Model`) and its sidecar (`info` plus the files' sizes and sha256) to
    `directory`. `save_model(model, path)` writes the IR (openvino.save_model, without fp16
    compression)."""
    directory = os.path.abspath(os.fspath(directory))
    os.makedirs(directory, exist_ok=True)
    if os.path.exists(sidecar_path(directory)):
        os.remove(sidecar_path(directory))  # the old files stop being vouched for before they change
    scratch = tempfile.mkdtemp(dir=directory, prefix=".quantize-")
    try:
        save_model(model, os.path.join(scratch, FILES[0]))
        files = {}
        for name in FILES:
            with open(os.path.join(scratch, name), "rb") as f:
                files[name] = f.read()
            os.replace(os.path.join(scratch, name), os.path.join(directory, name))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    info = dict(info, format=FORMAT, format_version=FORMAT_VERSION,
                created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                files={name: {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
                       for name, data in files.items()})
    partial = f"{sidecar_path(directory)}.{os.getpid()}.part"
    with open(partial, "w") as f:
        json.dump(info, f, indent=1)
    os.replace(partial, sidecar_path(directory))
    return QuantizedModel(directory, info, files)
