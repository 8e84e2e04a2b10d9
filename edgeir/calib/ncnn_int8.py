"""ncnn INT8: activation ranges from calibration frames, scales written into the model.

ncnn's own tools for this (``ncnn2table``, ``ncnn2int8``) are C++ programs that no pip
package ships, so edgeir writes their output format: each ``Convolution`` gets
``8=2`` (INT8 with per-output-channel weight scales) and, after its weights and bias in
the ``.bin``, one weight scale per output channel (127 / |w|max of that channel) and the
scale of its input (127 / |x|max over the calibration frames). ncnn quantizes the FP32
weights with those scales when it loads the model. Deconvolutions, which ncnn has no INT8
kernel for, and every other layer stay as they were.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable

import numpy as np

from edgeir.errors import EdgeIRError
from edgeir.export.ncnn_param import Layer, ParamGraph

INT8_SCALE_TERM = "2"
RAW_FP32 = 0
"""The tag pnnx writes before FP32 convolution weights (fp16=0)."""
INT8_TAG = 0x000D4B38
"""ncnn's tag of int8 weight data."""
NO_WEIGHTS = frozenset({"BinaryOp", "Concat", "Crop", "GELU", "Input", "Interp", "Pooling",
                        "Reduction", "Slice", "Split", "TanH", "ReLU", "Sigmoid", "Reshape", "Permute",
                        "UnaryOp", "Eltwise", "Flatten", "Dropout", "Clip", "Noop"})


def activation_ranges(extract: Callable[[np.ndarray, tuple[str, ...]], list[np.ndarray]],
                      convolutions: list[Layer], frames: Iterable[np.ndarray]) -> dict[str, float]:
    """|x|max of each convolution's input over ``frames`` (3 x H x W each), by layer name."""
    inputs = tuple(layer.bottoms[0] for layer in convolutions)
    peaks = dict.fromkeys((layer.name for layer in convolutions), 0.0)
    for frame in frames:
        for layer, value in zip(convolutions, extract(frame, inputs)):
            peaks[layer.name] = max(peaks[layer.name], float(np.abs(value).max()))
    return peaks


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def floats(self, count: int) -> bytes:
        end = self.at + 4 * count
        if end > len(self.data):
            raise EdgeIRError(f"expected {count} more weights in the ncnn .bin, found it ending at byte {len(self.data)}")
        chunk, self.at = self.data[self.at:end], end
        return chunk

    def tag(self, layer: Layer) -> bytes:
        tag = self.floats(1)
        if struct.unpack("<I", tag)[0] != RAW_FP32:
            raise EdgeIRError(f"expected FP32 weights in {layer.name} (a graph converted with fp16=0), "
                              "found another storage")
        return tag


def _weights_of(layer: Layer) -> int:
    """Float count of a layer's data blocks that are not tagged (bias, norms, memory data)."""
    if layer.type == "InstanceNorm":
        return 2 * layer.int("0") if layer.int("2", 1) else 0
    if layer.type == "Padding":
        return layer.int("6")  # per-channel pad values, none for reflect padding
    if layer.type == "MemoryData":
        return layer.int("0") * max(layer.int("1"), 1) * max(layer.int("11"), 1) * max(layer.int("2"), 1)
    return 0


def _to_int8(values: np.ndarray) -> np.ndarray:
    """ncnn's float2int8: round half away from zero, clamp to [-127, 127]."""
    rounded = np.sign(values) * np.floor(np.abs(values) + 0.5)
    return np.clip(rounded, -127, 127).astype(np.int8)


def _padded(data: bytes) -> bytes:
    """ncnn reads int8 data in 4-byte words."""
    return data + b"\0" * (-len(data) % 4)


def quantize(graph: ParamGraph, weights: bytes, ranges: dict[str, float]) -> tuple[ParamGraph, bytes]:
    """(the graph with INT8 convolutions, its ``.bin``): ``weights`` is the FP32 ``.bin``;
    convolutions without a positive range (an input that is always 0) stay FP32."""
    reader, out = _Reader(weights), bytearray()
    for layer in graph.layers:
        if layer.type in ("Convolution", "Deconvolution"):
            outputs, count = layer.int("0"), layer.int("6")
            tag = reader.tag(layer)
            kernel = reader.floats(count)
            bias = reader.floats(outputs) if layer.int("5") else b""
            peak = ranges.get(layer.name, 0.0)
            if layer.type == "Convolution" and peak > 0:
                weights_fp32 = np.frombuffer(kernel, "<f4").reshape(outputs, -1)
                per_channel = np.abs(weights_fp32).max(axis=1)
                scales = np.where(per_channel > 0, 127.0 / np.maximum(per_channel, 1e-30), 0.0).astype("<f4")
                out += struct.pack("<I", INT8_TAG) + _padded(_to_int8(weights_fp32 * scales[:, None]).tobytes())
                out += bias + scales.tobytes() + np.float32(127.0 / peak).astype("<f4").tobytes()
                layer.params["8"] = INT8_SCALE_TERM
            else:
                out += tag + kernel + bias
        elif layer.type in ("InstanceNorm", "MemoryData", "Padding"):
            out += reader.floats(_weights_of(layer))
        elif layer.type not in NO_WEIGHTS:
            raise EdgeIRError(f"expected ncnn layers whose weights edgeir knows, found {layer.type} ({layer.name})")
    if reader.at != len(weights):
        raise EdgeIRError(f"expected the .bin to end after the last layer's weights, found {len(weights) - reader.at} "
                          "bytes more: it does not belong to this .param")
    return graph, bytes(out)
