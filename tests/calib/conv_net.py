"""A three-convolution ONNX network with a residual from the input, small enough to
quantize and run in a fraction of a second."""

import numpy as np

onnx = __import__("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

CHANNELS = 4
NAMES = ("/first/Conv", "/middle/Conv", "/last/Conv")


def conv_net(seed: int = 0, loud: float = 1.0, channels: int = CHANNELS):
    """input -> Conv -> Relu -> Conv -> Relu -> Conv -> + input -> output. ``loud`` scales
    one output channel of the first convolution, which widens the range of its output (and
    of the next one's input) and so coarsens their INT8 steps. ModelOpt quantizes only
    convolutions wide enough for TensorRT's INT8 kernels to pay: give it 32 ``channels``."""
    rng = np.random.default_rng(seed)
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, channels, 16, 16])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, channels, 16, 16])
    inits, nodes, source = [], [], "input"
    for index, name in enumerate(NAMES):
        weight = rng.normal(0, 0.3, (channels, channels, 3, 3)).astype(np.float32)
        if index == 0:
            weight[0] *= loud
        inits += [numpy_helper.from_array(weight, f"w{index}"),
                  numpy_helper.from_array(rng.normal(0, 0.1, channels).astype(np.float32), f"b{index}")]
        nodes.append(helper.make_node("Conv", [source, f"w{index}", f"b{index}"], [f"c{index}"], name=name,
                                      pads=[1, 1, 1, 1]))
        source = f"c{index}"
        if index < len(NAMES) - 1:
            nodes.append(helper.make_node("Relu", [source], [f"r{index}"], name=f"/relu{index}"))
            source = f"r{index}"
    nodes.append(helper.make_node("Add", [source, "input"], ["output"], name="/residual"))
    graph = helper.make_graph(nodes, "net", [x], [y], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)


def frames(count: int, seed: int = 1, channels: int = CHANNELS) -> np.ndarray:
    return np.random.default_rng(seed).random((count, channels, 16, 16), dtype=np.float32)
