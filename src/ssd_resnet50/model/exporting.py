"""Write the inference network to a deployment file (MINDIR or ONNX).

The exported graph is the whole inference network: input a pre-processed float32 batch
[B, 3, H, W] (see inference/preprocess.py), outputs (boxes [B, N, 4] normalised y1, x1, y2, x2
in [0, 1]; sigmoid scores [B, N, C], column 0 background) with the box decoding inside the
graph. Only NMS (inference/postprocess.py) stays outside.

MINDIR can have a dynamic batch dimension; MindSpore 2.8 exports ONNX with a fixed batch
only. `export_network` serves both `ssd_resnet50.export` (files for deployment) and the
backends that run an exported graph.
"""
import logging
import os
import tempfile

import numpy as np

log = logging.getLogger(__name__)

FORMATS = {"MINDIR": ".mindir", "ONNX": ".onnx"}
INPUT_NAMES = ("images",)  # names in the ONNX graph
OUTPUT_NAMES = ("boxes", "scores")


def export_network(network, path, file_format="MINDIR", batch_size=1, dynamic_batch=False) -> str:
    """Write an inference network (`create_network(...)` with weights loaded) to `path`.

    The file is written to a temporary name in the same directory and renamed into place,
    so `path` is either the previous file or the complete new one. Returns `path`.

    >>> export_network(create_network("ssd_resnet50"), "ssd.onnx", "ONNX", batch_size=8)  # doctest: +SKIP
    'ssd.onnx'
    """
    import mindspore as ms

    file_format = check_format(file_format)
    if dynamic_batch and file_format == "ONNX":
        raise ValueError("MindSpore 2.8 cannot export ONNX with a dynamic batch; give a fixed --batch-size")
    if not dynamic_batch and int(batch_size) < 1:
        raise ValueError(f"batch size must be at least 1, got {batch_size}")
    height, width = network.config.image_size
    if dynamic_batch:
        example = ms.Tensor(shape=[None, 3, height, width], dtype=ms.float32)
    else:
        example = ms.Tensor(np.zeros((int(batch_size), 3, height, width), np.float32))
    network.set_train(False)
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory, prefix=".export-") as scratch:
        written = os.path.join(scratch, "network" + FORMATS[file_format])
        log.info("exporting %s, input [%s, 3, %d, %d], to %s", file_format,
                 "B" if dynamic_batch else batch_size, height, width, path)
        _forget_exported_graphs(network)
        if file_format == "ONNX":
            from mindspore import onnx

            onnx.export(network, example, file_name=written, input_names=list(INPUT_NAMES),
                        output_names=list(OUTPUT_NAMES))
        else:
            ms.export(network, example, file_name=written, file_format=file_format)
        if not os.path.isfile(written):
            raise RuntimeError(f"mindspore.export did not write a {file_format} file")
        os.chmod(written, 0o644)  # MindSpore writes owner-read-only files
        os.replace(written, path)
    return path


def _forget_exported_graphs(network):
    """MindSpore 2.8 keeps the graph an export compiled (and altered for the file) in the cell's
    compile cache; a second export of the same cell with the same input shape reuses it and
    fails inside BatchNorm. Dropping those cached phases makes every export compile afresh."""
    cache = getattr(network, "compile_cache", None)
    if isinstance(cache, set):
        for phase in [phase for phase in cache if phase.startswith("export.")]:
            cache.discard(phase)


def check_format(file_format) -> str:
    name = str(file_format).upper()
    if name not in FORMATS:
        raise ValueError(f"unknown export format {file_format!r}; choose one of {', '.join(FORMATS)}")
    return name


def with_extension(path, file_format) -> str:
    """`path`, with the format's extension added when it has none of its own
    (`mindspore.load` only reads files ending in .mindir)."""
    extension = FORMATS[check_format(file_format)]
    return path if path.lower().endswith(extension) else path + extension
