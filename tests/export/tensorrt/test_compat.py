"""The TensorRT compatibility check, one broken rule at a time."""

import numpy as np
import pytest

pytest.importorskip("onnx", reason="the onnx extra is not installed")

from edgeir.export.tensorrt.compat import check_graph  # noqa: E402
from edgeir.shapes import InputShapes  # noqa: E402
from tests.export.tensorrt.graphs import conv_graph  # noqa: E402

DYNAMIC = InputShapes.dynamic("256x256:512x512:768x768", "motion-deblur")


def test_a_good_graph_passes():
    report = check_graph(conv_graph(), DYNAMIC)
    assert report.ok, report.problems
    assert report.qdq_pairs == 1 and report.op_types["Conv"] == 1
    assert report.to_dict()["ok"] is True


@pytest.mark.parametrize("graph, message", [
    (conv_graph(op_type="Col2Im"), "Col2Im odd: TensorRT's ONNX parser has no importer"),
    (conv_graph(zero_point=np.uint8(0)), "expected an int8 zero point, found uint8"),
    (conv_graph(zero_point=np.int8(3)), "expected zero point 0, found 3"),
    (conv_graph(zero_point_on_q=False), "without a zero point the output is uint8"),
    (conv_graph(weight_computed=True), "Conv conv: expected constant weights"),
    (conv_graph(resize_mode="cubic"), "Resize resize: mode cubic is not supported"),
])
def test_each_rule(graph, message):
    report = check_graph(graph, DYNAMIC)
    assert not report.ok
    assert any(message in p for p in report.problems), report.problems


def test_profile_against_fixed_dimensions():
    fixed = conv_graph(height=256)
    assert check_graph(fixed, InputShapes.fixed((256, 256), "motion-deblur")).ok
    report = check_graph(fixed, DYNAMIC)
    assert any("max profile shape needs 768 on axis 2, the graph fixes it to 256" in p for p in report.problems)


def test_int32_bias_dequantize_is_refused():
    """What ONNX Runtime's quantizer writes for biases by default, and TensorRT rejects."""
    from onnx import helper, numpy_helper

    model = conv_graph()
    model.graph.initializer.extend([numpy_helper.from_array(np.zeros(3, np.int32), "bias_q"),
                                    numpy_helper.from_array(np.zeros(3, np.int32), "bias_zero"),
                                    numpy_helper.from_array(np.array(0.01, np.float32), "bias_scale")])
    model.graph.node.insert(0, helper.make_node("DequantizeLinear", ["bias_q", "bias_scale", "bias_zero"],
                                                ["bias"], name="bias_dq"))
    conv = next(n for n in model.graph.node if n.op_type == "Conv")
    conv.input.append("bias")
    report = check_graph(model, DYNAMIC)
    assert any("bias_dq: expected an int8 zero point, found int32" in p for p in report.problems)
