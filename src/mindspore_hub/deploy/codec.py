"""Tensors of the Open Inference Protocol (KServe v2) to and from NumPy, JSON and binary.

A request body is a JSON object, optionally followed by raw tensor bytes (the binary tensor
data extension): the header ``Inference-Header-Content-Length`` gives the JSON's length, and
each input carried in binary says its size in ``parameters.binary_data_size``, in input order.
BYTES tensors in binary are a 4-byte little-endian length before each element. Everything
read from a request is checked; a malformed one raises `ProtocolError` naming what is wrong.
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
from dataclasses import dataclass, field

import numpy as np

DATATYPES = {
    "BOOL": np.bool_, "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32, "UINT64": np.uint64,
    "INT8": np.int8, "INT16": np.int16, "INT32": np.int32, "INT64": np.int64,
    "FP16": np.float16, "FP32": np.float32, "FP64": np.float64, "BYTES": np.object_,
}
MAX_ELEMENTS = 1 << 28  # a shape claiming more elements than this is refused before any allocation


class ProtocolError(ValueError):
    """A request that does not follow the protocol (answered 400); the message says what and where."""


@dataclass(frozen=True)
class TensorSpec:
    """One input or output of a model, as its metadata describes it.

    `shape` is per request, batch dimension first (-1: any size; None: any rank, described as [-1]
    in the metadata). `base64_in_json`: for a BYTES
    input, a JSON string element is the base64 of the bytes (JSON cannot carry raw bytes, such as
    an encoded image); in binary it is the bytes themselves.
    """

    name: str
    datatype: str
    shape: tuple | None
    base64_in_json: bool = False

    @classmethod
    def of(cls, item) -> "TensorSpec":
        """A TensorSpec from one, or from a dict with its fields (what an entry that does not import
        mindspore_hub gives)."""
        if isinstance(item, cls):
            return item
        try:
            shape = item.get("shape")
            return cls(str(item["name"]), str(item["datatype"]), None if shape is None else tuple(shape),
                       bool(item.get("base64_in_json", False)))
        except (AttributeError, KeyError, TypeError) as error:
            raise TypeError(f"a tensor spec needs name, datatype and shape, got {item!r}") from error

    def metadata(self) -> dict:
        return {"name": self.name, "datatype": self.datatype, "shape": [-1] if self.shape is None else list(self.shape)}


@dataclass
class InferRequest:
    """A decoded infer request: its id, its inputs as arrays, which outputs to send and how."""

    id: str | None
    inputs: dict
    outputs: list | None = None  # names asked for (None: all)
    binary_outputs: set = field(default_factory=set)
    binary_default: bool = False  # request-level binary_data_output


def decode_request(body: bytes, header_length: str | None, specs: list) -> InferRequest:
    """The request in `body` checked against the model's input `specs` (list of TensorSpec)."""
    if header_length is None:
        header, binary = body, b""
    else:
        try:
            length = int(header_length)
        except ValueError:
            length = -1
        if not 0 <= length <= len(body):
            raise ProtocolError(f"Inference-Header-Content-Length {header_length!r} is not a length within the "
                                f"body of {len(body)} bytes")
        header, binary = body[:length], body[length:]
    try:
        request = json.loads(header)
    except (ValueError, UnicodeDecodeError) as error:
        raise ProtocolError(f"the request is not JSON ({error})") from None
    if not isinstance(request, dict) or not isinstance(request.get("inputs"), list):
        raise ProtocolError('the request must be a JSON object with a list "inputs"')
    by_name = {spec.name: spec for spec in specs}
    inputs, offset = {}, 0
    for index, tensor in enumerate(request["inputs"]):
        name = tensor.get("name") if isinstance(tensor, dict) else None
        if not isinstance(name, str):
            raise ProtocolError(f"input {index} has no name")
        if name not in by_name:
            raise ProtocolError(f"unknown input {name!r}; the model's inputs are {sorted(by_name)}")
        if name in inputs:
            raise ProtocolError(f"input {name!r} is given twice")
        spec = by_name[name]
        shape = _shape(tensor.get("shape"), name)
        datatype = tensor.get("datatype")
        if datatype != spec.datatype:
            raise ProtocolError(f"input {name!r} has datatype {datatype!r}; the model takes {spec.datatype}")
        _check_shape(shape, spec)
        parameters = tensor.get("parameters") or {}
        if not isinstance(parameters, dict):
            raise ProtocolError(f"input {name!r}: parameters must be an object")
        size = parameters.get("binary_data_size")
        if size is not None:
            if not isinstance(size, int) or size < 0 or offset + size > len(binary):
                raise ProtocolError(f"input {name!r}: binary_data_size {size!r} goes beyond the binary data "
                                    f"({len(binary) - offset} bytes left)")
            inputs[name] = _from_binary(binary[offset:offset + size], datatype, shape, name)
            offset += size
        elif "data" in tensor:
            inputs[name] = _from_json(tensor["data"], spec, shape)
        else:
            raise ProtocolError(f"input {name!r} has neither data nor binary_data_size")
    if offset != len(binary):
        raise ProtocolError(f"{len(binary) - offset} bytes of binary data belong to no input")
    missing = [name for name in by_name if name not in inputs]
    if missing:
        raise ProtocolError(f"missing input(s) {missing}")
    return _outputs(request, InferRequest(id=_request_id(request), inputs=inputs))


def encode_response(model: str, request: InferRequest, outputs: dict, specs: list) -> tuple[bytes, int | None]:
    """(body, JSON header length or None) of the response holding `outputs` ({name: array})."""
    wanted = request.outputs if request.outputs is not None else [spec.name for spec in specs]
    types = {spec.name: spec.datatype for spec in specs}
    tensors, chunks = [], []
    for name in wanted:
        array, datatype = outputs[name], types[name]
        tensor = {"name": name, "datatype": datatype, "shape": list(array.shape)}
        if name in request.binary_outputs or (request.binary_default and request.outputs is None):
            raw = _to_binary(array, datatype)
            tensor["parameters"] = {"binary_data_size": len(raw)}
            chunks.append(raw)
        else:
            tensor["data"] = _to_json(array, datatype)
        tensors.append(tensor)
    response = {"model_name": model, "outputs": tensors}
    if request.id is not None:
        response["id"] = request.id
    header = json.dumps(response, separators=(",", ":")).encode()
    if not chunks:
        return header, None
    return b"".join([header, *chunks]), len(header)


def stack(samples: list, specs: list) -> dict:
    """Samples' outputs ({name: array}) stacked along a new batch dimension; arrays of different
    shapes (a detector's boxes, say) are padded at the end of each axis to the largest, with
    zeros (empty strings for BYTES)."""
    stacked = {}
    for spec in specs:
        arrays = [np.asarray(sample[spec.name]) for sample in samples]
        shape = tuple(max(sizes) for sizes in zip(*(array.shape for array in arrays))) if arrays[0].ndim else ()
        if any(array.shape != shape for array in arrays):
            fill = b"" if spec.datatype == "BYTES" else 0
            padded = np.full((len(arrays),) + shape, fill, dtype=arrays[0].dtype)
            for row, array in zip(padded, arrays):
                row[tuple(slice(0, size) for size in array.shape)] = array
            stacked[spec.name] = padded
        else:
            stacked[spec.name] = np.stack(arrays)
    return stacked


def _request_id(request: dict):
    value = request.get("id")
    return value if isinstance(value, str) else None


def _outputs(request: dict, decoded: InferRequest) -> InferRequest:
    parameters = request.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise ProtocolError('"parameters" must be an object')
    decoded.binary_default = parameters.get("binary_data_output") is True
    asked = request.get("outputs")
    if asked is None:
        return decoded
    if not isinstance(asked, list):
        raise ProtocolError('"outputs" must be a list')
    decoded.outputs = []
    for index, tensor in enumerate(asked):
        name = tensor.get("name") if isinstance(tensor, dict) else None
        if not isinstance(name, str):
            raise ProtocolError(f"requested output {index} has no name")
        decoded.outputs.append(name)
        options = tensor.get("parameters") or {}
        if isinstance(options, dict) and options.get("binary_data", decoded.binary_default) is True:
            decoded.binary_outputs.add(name)
    return decoded


def check_outputs(request: InferRequest, specs: list) -> None:
    """Refuse a request for outputs the model does not have."""
    known = {spec.name for spec in specs}
    unknown = [name for name in request.outputs or () if name not in known]
    if unknown:
        raise ProtocolError(f"unknown output(s) {unknown}; the model's outputs are {sorted(known)}")


def _shape(shape, name) -> tuple:
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                              for d in shape):
        raise ProtocolError(f"input {name!r}: shape must be a list of non-negative integers, got {shape!r}")
    if int(np.prod(shape, dtype=np.float64)) > MAX_ELEMENTS:
        raise ProtocolError(f"input {name!r}: shape {shape} has more than {MAX_ELEMENTS} elements")
    return tuple(shape)


def _check_shape(shape: tuple, spec: TensorSpec) -> None:
    expected = (-1,) * len(shape) if spec.shape is None else tuple(spec.shape)
    if len(shape) != len(expected) or any(e != -1 and e != d for d, e in zip(shape, expected)):
        raise ProtocolError(f"input {spec.name!r} has shape {list(shape)}; the model takes {list(expected)} "
                            "(-1: any size)")
    if not shape or shape[0] < 1:
        raise ProtocolError(f"input {spec.name!r}: the first (batch) dimension must be at least 1, got {list(shape)}")


def _from_binary(raw: bytes, datatype: str, shape: tuple, name: str) -> np.ndarray:
    count = int(np.prod(shape))
    if datatype == "BYTES":
        elements, offset = [], 0
        while offset < len(raw):
            if offset + 4 > len(raw):
                raise ProtocolError(f"input {name!r}: BYTES data cut short in a length prefix")
            (length,) = struct.unpack_from("<I", raw, offset)
            offset += 4
            if offset + length > len(raw):
                raise ProtocolError(f"input {name!r}: a BYTES element of {length} bytes goes beyond the data")
            elements.append(raw[offset:offset + length])
            offset += length
        if len(elements) != count:
            raise ProtocolError(f"input {name!r}: {len(elements)} BYTES elements for shape {list(shape)}")
        array = np.empty(count, dtype=object)
        array[:] = elements
        return array.reshape(shape)
    dtype = np.dtype(DATATYPES[datatype])
    if len(raw) != count * dtype.itemsize:
        raise ProtocolError(f"input {name!r}: {len(raw)} bytes of binary data, shape {list(shape)} of "
                            f"{datatype} needs {count * dtype.itemsize}")
    return np.frombuffer(raw, dtype=dtype.newbyteorder("<")).astype(dtype).reshape(shape)


def _from_json(data, spec: TensorSpec, shape: tuple) -> np.ndarray:
    flat = list(_flatten(data))
    count = int(np.prod(shape))
    if len(flat) != count:
        raise ProtocolError(f"input {spec.name!r}: {len(flat)} data elements for shape {list(shape)}")
    if spec.datatype == "BYTES":
        array = np.empty(count, dtype=object)
        array[:] = [_json_bytes(value, spec) for value in flat]
        return array.reshape(shape)
    if not all(isinstance(value, (int, float, bool)) for value in flat):
        raise ProtocolError(f"input {spec.name!r}: {spec.datatype} data must be numbers")
    try:
        return np.asarray(flat, dtype=DATATYPES[spec.datatype]).reshape(shape)
    except (OverflowError, ValueError) as error:
        raise ProtocolError(f"input {spec.name!r}: data do not fit {spec.datatype} ({error})") from None


def _flatten(data):
    if isinstance(data, list):
        for item in data:
            yield from _flatten(item)
    else:
        yield data


def _json_bytes(value, spec: TensorSpec) -> bytes:
    if not isinstance(value, str):
        raise ProtocolError(f"input {spec.name!r}: BYTES data in JSON must be strings")
    if not spec.base64_in_json:
        return value.encode()
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError(f"input {spec.name!r}: in JSON its elements are base64 (standard alphabet); "
                            "this one is not (or send it as binary data)") from None


def _to_binary(array: np.ndarray, datatype: str) -> bytes:
    if datatype == "BYTES":
        parts = []
        for value in array.reshape(-1):
            value = value if isinstance(value, bytes) else str(value).encode()
            parts += [struct.pack("<I", len(value)), value]
        return b"".join(parts)
    return np.ascontiguousarray(array, dtype=np.dtype(DATATYPES[datatype]).newbyteorder("<")).tobytes()


def _to_json(array: np.ndarray, datatype: str) -> list:
    flat = array.reshape(-1)
    if datatype == "BYTES":
        return [value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value) for value in flat]
    return flat.tolist()
