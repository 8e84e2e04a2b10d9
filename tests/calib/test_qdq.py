"""Returning convolutions of a Q/DQ graph to floating point by bypassing Q/DQ pairs."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="the onnx extra is not installed")
pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")

from edgeir.calib.onnx_int8 import quantize  # noqa: E402
from edgeir.calib.qdq import quantized_convolutions, restore  # noqa: E402
from edgeir.calib.sources import CalibrationSet  # noqa: E402
from edgeir.export.graph import runner  # noqa: E402
from tests.calib.conv_net import NAMES, conv_net, frames  # noqa: E402


@pytest.fixture(scope="module", params=["cpu", "trt"])
def quantized(request):
    fp32 = conv_net()
    model, _ = quantize(fp32, CalibrationSet(frames(8), "test"), scheme=request.param, progress=False)
    return fp32, model, request.param


def _run(model, x):
    return runner(model)(x)


def _readers(model, tensor):
    return [n for n in model.graph.node if tensor in n.input]


def test_lists_the_quantized_convolutions(quantized):
    _, model, _ = quantized
    assert quantized_convolutions(model) == list(NAMES)


def test_all_returned_is_the_fp32_graph(quantized):
    fp32, model, _ = quantized
    x = frames(1, seed=5)
    restored = restore(model, fp32, NAMES)
    onnx.checker.check_model(restored, full_check=True)
    assert not [n for n in restored.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")]
    np.testing.assert_array_equal(_run(restored, x), _run(fp32, x))
    assert not np.array_equal(_run(model, x), _run(fp32, x))  # the quantized graph differs


def test_one_returned_reads_float_weights_and_input(quantized):
    fp32, model, _ = quantized
    restored = restore(model, fp32, [NAMES[1]])
    assert quantized_convolutions(restored) == [NAMES[0], NAMES[2]]
    (middle,) = [n for n in restored.graph.node if n.name == NAMES[1]]
    weights = {t.name: t for t in restored.graph.initializer}
    np.testing.assert_array_equal(onnx.numpy_helper.to_array(weights[middle.input[1]]),
                                  onnx.numpy_helper.to_array(fp32.graph.initializer[2]))
    assert middle.input[0] == "r0"  # the float activation, not its DequantizeLinear
    # the untouched convolutions keep their Q/DQ
    made = {o: n for n in restored.graph.node for o in n.output}
    assert made[[n for n in restored.graph.node if n.name == NAMES[2]][0].input[0]].op_type == "DequantizeLinear"
    x = frames(1, seed=5)
    expected = _run(fp32, x)
    assert np.abs(_run(restored, x) - expected).max() <= np.abs(_run(model, x) - expected).max()


def test_float_readers_read_the_float_input(quantized):
    """ONNX Runtime's quantizer feeds the residual Add the rounded input; the cpu scheme
    reads the float one, which costs nothing on its kernels."""
    fp32, model, scheme = quantized
    (residual,) = [n for n in model.graph.node if n.name == "/residual"]
    if scheme == "cpu":
        assert "input" in residual.input  # already done by quantize
    else:
        assert "input" not in residual.input  # the trt scheme keeps its placement
        again = restore(model, fp32, [], float_readers=True)
        (residual,) = [n for n in again.graph.node if n.name == "/residual"]
        assert "input" in residual.input


def test_refuses_names_that_are_not_quantized(quantized):
    fp32, model, _ = quantized
    with pytest.raises(ValueError, match="/nowhere"):
        restore(model, fp32, ["/nowhere"])


def test_returns_modelopt_convolutions_to_fp16():
    """ModelOpt's form (trt-int8): weights quantized by a node, FP16 elsewhere; a returned
    convolution computes in FP16, as TensorRT would run it."""
    pytest.importorskip("modelopt", reason="the tensorrt extra is not installed")
    from onnx import TensorProto

    from edgeir.calib.modelopt_int8 import quantize as modelopt_quantize

    fp32 = conv_net(channels=32)
    model, _ = modelopt_quantize(fp32, frames(4, channels=32), 1)
    assert quantized_convolutions(model) == list(NAMES)
    restored = restore(model, fp32, [NAMES[0]])
    onnx.checker.check_model(restored, full_check=True)
    assert quantized_convolutions(restored) == list(NAMES[1:])
    inferred = onnx.shape_inference.infer_shapes(restored)
    types = {v.name: v.type.tensor_type.elem_type for v in inferred.graph.value_info}
    assert types["c0"] == TensorProto.FLOAT16
    x = frames(1, seed=5, channels=32)
    expected = _run(fp32, x)
    assert np.abs(_run(restored, x) - expected).max() <= np.abs(_run(model, x) - expected).max()
