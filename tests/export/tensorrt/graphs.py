"""Small hand-built ONNX graphs for the TensorRT checks: each test changes one thing."""

import numpy as np

onnx = __import__("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def conv_graph(*, op_type="Conv", zero_point=np.int8(0), quantize=True, zero_point_on_q=True,
               height=None, weight_computed=False, resize_mode=None, channels=3):
    """input -> [Q -> DQ] -> Conv (constant 3x3 weights) -> output; keyword arguments break one rule."""
    h = height if height is not None else "height"
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", channels, h, "width"])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, None)
    weight = numpy_helper.from_array(np.full((channels, channels, 3, 3), 0.1, np.float32), "weight")
    inits = [weight, numpy_helper.from_array(np.array(0.02, np.float32), "scale")]
    nodes = []
    source = "input"
    if quantize:
        inits.append(numpy_helper.from_array(np.array(zero_point), "zero"))
        q_inputs = ["input", "scale", "zero"] if zero_point_on_q else ["input", "scale"]
        nodes += [helper.make_node("QuantizeLinear", q_inputs, ["q"], name="quant"),
                  helper.make_node("DequantizeLinear", ["q", "scale", "zero"], ["dq"], name="dequant")]
        source = "dq"
    weight_name = "weight"
    if weight_computed:
        nodes.append(helper.make_node("Relu", ["input_weight"], ["computed_weight"], name="make_weight"))
        weight_name = "computed_weight"
        x2 = helper.make_tensor_value_info("input_weight", TensorProto.FLOAT, [channels, channels, 3, 3])
    if op_type == "Conv":
        nodes.append(helper.make_node("Conv", [source, weight_name], ["conv"], name="conv", pads=[1, 1, 1, 1]))
    else:
        nodes.append(helper.make_node(op_type, [source], ["conv"], name="odd"))
    last = "conv"
    if resize_mode is not None:
        inits.append(numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales"))
        nodes.append(helper.make_node("Resize", [last, "", "scales"], ["resized"], name="resize", mode=resize_mode))
        last = "resized"
    nodes.append(helper.make_node("Identity", [last], ["output"], name="out"))
    inputs = [x, x2] if weight_computed else [x]
    graph = helper.make_graph(nodes, "g", inputs, [y], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)], ir_version=9)


def fp16_chain():
    """input (fp32) -> Cast fp16 -> Mul by an fp16 constant -> Add an fp16 constant -> Cast fp32."""
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 4, 4])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, 4, 4])
    inits = [numpy_helper.from_array(np.array(1 / 3, np.float16), "third"),
             numpy_helper.from_array(np.array(1000.0, np.float16), "big")]
    nodes = [helper.make_node("Cast", ["input"], ["x16"], to=TensorProto.FLOAT16, name="to16"),
             helper.make_node("Mul", ["x16", "third"], ["m"], name="mul"),
             helper.make_node("Add", ["m", "big"], ["a"], name="add"),
             helper.make_node("Cast", ["a"], ["output"], to=TensorProto.FLOAT, name="to32")]
    graph = helper.make_graph(nodes, "g", [x], [y], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)], ir_version=9)
