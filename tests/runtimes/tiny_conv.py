"""Tiny convolution graphs for the tests of what ran in INT8: built with onnx's helper and
quantized with ONNX Runtime's quantizer in a second or two, with their MACs known by hand;
and ``residual``, a tiny image restorer for the tests of what runs around a network.

The graph: 3 -> 16 (3x3), ReLU, depthwise 16 (3x3), 1x1 16 -> 16 and, with
``transposed``, a 2x2 stride-2 ConvTranspose 16 -> 8; any H x W (multiples of 16 channels
keep ONNX Runtime's NCHWc kernels, which pad channels to blocks of 8 or 16, at the
network's own MACs).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def conv_macs_by_hand(h: int, w: int, transposed: bool) -> tuple[int, int]:
    """(MACs of the convolutions, MACs of the ConvTranspose) at H x W."""
    area = h * w
    convs = 16 * area * 3 * 9 + 16 * area * 9 + 16 * area * 16
    return convs, (16 * area * 8 * 4 if transposed else 0)


def build(folder: Path, transposed: bool = False) -> Path:
    """The FP32 graph, as ``folder/fp32[-t].onnx``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)

    def weight(name: str, shape: tuple[int, ...]) -> onnx.TensorProto:
        fan_in = int(np.prod(shape[1:]))
        return numpy_helper.from_array((rng.standard_normal(shape) / fan_in**0.5).astype(np.float32), name)

    initializers = [weight("w1", (16, 3, 3, 3)), numpy_helper.from_array(np.zeros(16, np.float32), "b1"),
                    weight("w2", (16, 1, 3, 3)), weight("w3", (16, 16, 1, 1))]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "w2"], ["c2"], pads=[1, 1, 1, 1], group=16),
             helper.make_node("Conv", ["c2", "w3"], ["c3" if transposed else "y"])]
    channels = 16
    if transposed:
        initializers.append(weight("w4", (16, 8, 2, 2)))
        nodes.append(helper.make_node("ConvTranspose", ["c3", "w4"], ["y"], strides=[2, 2]))
        channels = 8
    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, "h", "w"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, channels, None, None])], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = folder / ("fp32-t.onnx" if transposed else "fp32.onnx")
    onnx.save(model, path)
    return path


def quantize(fp32: Path, kind: str = "qdq") -> Path:
    """``qdq``: static Q/DQ, uint8 activations and int8 weights (edgeir's CPU scheme), four
    random calibration inputs; ``dynamic``: weights only, activations quantized at run time
    (ConvInteger)."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )

    out = fp32.with_name(fp32.stem.replace("fp32", kind) + ".onnx")
    if kind == "dynamic":
        quantize_dynamic(fp32, out, weight_type=QuantType.QUInt8)
        return out
    rng = np.random.default_rng(1)

    class Frames(CalibrationDataReader):
        def __init__(self) -> None:
            self.frames = iter([{"x": rng.random((1, 3, 32, 32), dtype=np.float32)} for _ in range(4)])

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.frames, None)

    quantize_static(fp32, out, Frames(), quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8, per_channel=True)
    return out


def residual(path: Path) -> Path:
    """A real ONNX restorer that ONNX Runtime runs in a millisecond: a random 3x3 convolution
    added to its input (N x 3 x H x W in and out, any N, H, W), so that every pixel's output
    depends on its neighbours."""
    import pytest

    onnx = pytest.importorskip("onnx", reason="the onnx extra is not installed")
    from onnx import TensorProto, helper, numpy_helper

    weight = (np.random.default_rng(0).standard_normal((3, 3, 3, 3)) * 0.2).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]), helper.make_node("Add", ["x", "c"], ["y"])],
        "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, "h", "w"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 3, "h", "w"])],
        [numpy_helper.from_array(weight, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    return path
