"""int8 post-training quantization with NNCF, its accuracy cost measured: `ssd-resnet50 optimize`.

    result = quantize(network, "calibration_photos/", "ssd_int8/", checkpoint="ssd.ckpt")
    detector = Detector.from_checkpoint("ssd.ckpt", backend="openvino", int8_model="ssd_int8/")

The calibration images go through the project's own pre-processing (`inference.preprocess`),
so NNCF sees exactly what the network sees at inference. NNCF quantizes the ONNX model the
backends share (`backends.model_cache`), read by OpenVINO; the result is written with its
sidecar by `backends.quantized_model`. A second run with the same weights, calibration images,
preset and versions finds the sidecar matching and reuses the model.

`compare` evaluates fp32 and int8 side by side on annotated images (COCO AP through
`evaluate`), and `transform` is this entry's hook for `mindspore_hub.optimize.transform`.
"""
import hashlib
import logging
import os
import time
from dataclasses import dataclass

import numpy as np

from .backends import make_backend, model_cache, quantized_model
from .backends.accelerated import AcceleratedNetwork
from .backends.openvino_backend import check_precision, import_nncf, import_openvino, read_onnx
from .evaluate import METRIC_NAMES, coco_metrics, detect_images, label_set_for, load_ground_truth
from .inference.detector import Detector
from .inference.preprocess import ImageError, describe, preprocess

log = logging.getLogger(__name__)

DEFAULT_SUBSET = 300  # NNCF's default (and recommended) calibration subset size
PRESETS = ("mixed", "performance")  # nncf.QuantizationPreset: MIXED = symmetric weights, asymmetric activations
SAMPLE_SEED = 0  # which files of a larger directory calibrate: a fixed random sample
SKIPPED_SHOWN = 5  # unreadable files named in the warning


@dataclass
class CalibrationSet:
    """The inputs that calibrate (each decoded once to check it), those skipped, and a digest of
    the network inputs they give (what decides the quantized model)."""

    source: str
    inputs: list
    skipped: list  # (name, why)
    digest: str


def calibration_set(source, subset_size=DEFAULT_SUBSET, config=None) -> CalibrationSet:
    """Up to `subset_size` readable images from a directory (a fixed random sample when it holds
    more; every regular file that is not hidden is tried) or from a sequence of inputs (paths,
    bytes, PIL images, arrays; the first ones). Unreadable ones are skipped with one warning;
    ValueError when none is readable."""
    from .model.config import DEFAULT_CONFIG

    config = config or DEFAULT_CONFIG
    if int(subset_size) < 1:
        raise ValueError(f"the calibration subset must hold at least 1 image, got {subset_size}")
    name, candidates = _candidates(source)
    inputs, skipped, digest = [], [], hashlib.sha256()
    for item in candidates:
        if len(inputs) == int(subset_size):
            break
        try:
            tensor, _ = preprocess(item, config)
        except ImageError as error:
            skipped.append((describe(item), str(error)))
            continue
        inputs.append(item)
        digest.update(f"{tensor.shape}\n".encode())
        digest.update(tensor.tobytes())
    if skipped:
        shown = "; ".join(why for _, why in skipped[:SKIPPED_SHOWN]) + ("; ..." if len(skipped) > SKIPPED_SHOWN else "")
        log.warning("calibration: skipped %d unreadable file(s) of %s: %s", len(skipped), name, shown)
    if not inputs:
        raise ValueError(f"no readable calibration image in {name}"
                         + (f" ({len(skipped)} unreadable: {skipped[0][1]} ...)" if skipped else " (it is empty)"))
    return CalibrationSet(name, inputs, skipped, digest.hexdigest())


def _candidates(source):
    """(a name for messages, the inputs to try in order)."""
    if isinstance(source, (str, os.PathLike)):
        directory = os.fspath(source)
        if not os.path.isdir(directory):
            raise FileNotFoundError(f"calibration images: {directory} is not a directory")
        files = sorted(entry.path for entry in os.scandir(directory) if entry.is_file() and not entry.name.startswith("."))
        order = np.random.default_rng(SAMPLE_SEED).permutation(len(files))
        return directory, [files[i] for i in order]
    return f"the {type(source).__name__} of calibration images", source


@dataclass
class QuantizeResult:
    model: "quantized_model.QuantizedModel"
    calibration: CalibrationSet
    reused: bool  # an up-to-date model was already there
    seconds: float


def quantize(network, calibration, out_dir, *, subset_size=DEFAULT_SUBSET, preset="mixed", checkpoint=None,
             checkpoint_sha256=None, cache_dir=None, force=False) -> QuantizeResult:
    """Quantize the inference network to int8 with NNCF over `calibration` images (a directory or
    a sequence, see `calibration_set`) and write it to `out_dir` (`backends.quantized_model`).

    `checkpoint` / `checkpoint_sha256` identify the weights (else a digest of the parameters);
    `cache_dir` is the exported-model cache. An up-to-date model already in `out_dir` is reused
    unless `force`; a damaged one is made again.
    """
    started = time.perf_counter()
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    ov, nncf = import_openvino(), import_nncf()
    config = network.config
    calibration = calibration_set(calibration, subset_size, config)
    weights = model_cache.weights_id(network, checkpoint, checkpoint_sha256)
    onnx_path = os.path.join(model_cache.prepare_cache_dir(cache_dir), model_cache.model_file_name(weights, config, 1))
    info = {
        "weights": {"id": weights, "parameters_sha256": model_cache.parameters_sha256(network)},
        "network": {"image_size": list(config.image_size), "num_classes": config.num_classes,
                    "onnx": os.path.basename(onnx_path)},
        "calibration": {"digest": calibration.digest, "images": len(calibration.inputs),
                        "skipped": len(calibration.skipped), "subset_size": int(subset_size),
                        "source": calibration.source},
        "quantization": {"tool": "nncf.quantize", "preset": preset},
        "versions": {"ssd_resnet50": model_cache.project_version(), "openvino": ov.__version__,
                     "nncf": nncf.__version__},
    }
    existing = _up_to_date(out_dir, info) if not force else None
    if existing is not None:
        log.info("%s is up to date (same weights, calibration images, preset and versions); reusing it", out_dir)
        return QuantizeResult(existing, calibration, True, time.perf_counter() - started)
    model = read_onnx(ov.Core(), network, onnx_path, 1)
    dataset = nncf.Dataset(calibration.inputs, lambda item: preprocess(item, config)[0][None])
    log.info("quantizing with NNCF over %d calibration images (preset %s)", len(calibration.inputs), preset)
    quantized = nncf.quantize(model, dataset, preset=getattr(nncf.QuantizationPreset, preset.upper()),
                              subset_size=len(calibration.inputs))
    written = quantized_model.write(out_dir, quantized, info,
                                    lambda model, path: ov.save_model(model, path, compress_to_fp16=False))
    return QuantizeResult(written, calibration, False, time.perf_counter() - started)


def _reuse_key(info) -> tuple:
    return (info.get("weights", {}).get("id"), info.get("network", {}).get("onnx"),
            info.get("calibration", {}).get("digest"), info.get("quantization", {}).get("preset"),
            info.get("versions"))


def _up_to_date(out_dir, info):
    """The model in `out_dir` when it checks out and was made from the same inputs, else None."""
    if not os.path.exists(quantized_model.sidecar_path(out_dir)):
        return None
    try:
        existing = quantized_model.read(out_dir)
    except quantized_model.QuantizedModelError as error:
        log.warning("the int8 model in %s is unusable (%s); quantizing again", out_dir, error)
        return None
    if _reuse_key(existing.info) != _reuse_key(info):
        log.info("%s was made from other weights, images, preset or versions; quantizing again", out_dir)
        return None
    return existing


def compare(network, int8_model, annotations, images, *, labels=None, batch_size=8, **backend_options):
    """COCO metrics of the network in fp32 and of the int8 model on the annotated images found in
    `images`, both through OpenVINO and the same Detector code. Returns (fp32 Metrics, int8
    Metrics, [(image id, error), ...] of images that could not be read)."""
    truth = load_ground_truth(annotations)
    labels = label_set_for(truth, labels, network.config.num_classes)
    detectors = [Detector(network, backend="openvino", precision="fp32", labels=labels, batch_size=batch_size,
                          **backend_options),
                 Detector(network, backend="openvino", int8_model=int8_model, labels=labels, batch_size=batch_size,
                          **backend_options)]
    metrics, failed = [], []
    for detector in detectors:
        results, done, failed = detect_images(detector, truth, images, truth.getImgIds(), no_progress=True)
        if not done:
            raise ValueError(f"none of the images of {annotations} could be read from {images}")
        metrics.append(coco_metrics(truth, results, done))
    return metrics[0], metrics[1], failed


def side_by_side(fp32, int8) -> str:
    """The two sets of metrics as one table, with the difference int8 - fp32."""
    lines = [f"{'metric':<8}{'fp32':>8}{'int8':>8}{'int8-fp32':>11}"]
    for name in METRIC_NAMES:
        lines.append(f"{name:<8}{fp32[name]:>8.3f}{int8[name]:>8.3f}{int8[name] - fp32[name]:>+11.3f}")
    return "\n".join(lines) + "\n"


def transform(net, method, device, dataset=None, *, out_dir=None, subset_size=DEFAULT_SUBSET, cache_dir=None,
              threads=None):
    """This entry's `mindspore_hub.optimize.transform`: the inference network `net` run by OpenVINO
    on the CPU, as an `nn.Cell` (`backends.accelerated.AcceleratedNetwork`).

    `method` is the precision: "fp32", "bf16" (where the CPU supports it) or "int8", which first
    quantizes over the calibration images in `dataset` (a directory, a sequence of images, or a
    `mindspore.dataset` whose first column holds images) into `out_dir` (default: the
    exported-model cache; reused while the weights and images are the same).
    """
    from .model.network import SsdInference

    if not isinstance(net, SsdInference):
        raise TypeError(f"transform needs the ssd_resnet50 inference network, got {type(net).__name__}")
    if str(device).upper() != "CPU":
        raise ValueError(f"the ssd_resnet50 entry accelerates for the CPU only, not {device!r}")
    method = check_precision(method)
    options = {"cache_dir": cache_dir, "threads": threads}
    if method != "int8":
        return AcceleratedNetwork(net, make_backend("openvino", net, precision=method, **options))
    if dataset is None:
        raise ValueError("method 'int8' needs calibration images: dataset=DIR, a list of images or a mindspore.dataset")
    if out_dir is None:
        height, width = net.config.image_size
        out_dir = os.path.join(model_cache.prepare_cache_dir(cache_dir), "int8",
                               f"{model_cache.weights_id(net)[:24]}-{height}x{width}")
    result = quantize(net, _images_of(dataset), out_dir, subset_size=subset_size, cache_dir=cache_dir)
    return AcceleratedNetwork(net, make_backend("openvino", net, int8_model=result.model.directory, **options))


def _images_of(dataset):
    """A mindspore.dataset's first column as images, read as far as calibration needs (1-D uint8
    rows are encoded files); anything else as it is."""
    if not hasattr(dataset, "create_tuple_iterator"):
        return dataset
    return (row[0].tobytes() if row[0].ndim == 1 and row[0].dtype == np.uint8 else row[0]
            for row in dataset.create_tuple_iterator(output_numpy=True, num_epochs=1))
