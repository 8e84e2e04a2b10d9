"""ModelOpt's INT8 quantizer (``trt-int8``) on a small graph: Q/DQ on the convolution with
zero points 0, option errors, and ONNX Runtime's quantizer left as it found it."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="the onnx extra is not installed")
pytest.importorskip("modelopt", reason="the tensorrt extra is not installed")

from edgeir.calib.modelopt_int8 import quantize  # noqa: E402
from edgeir.errors import EdgeIRError  # noqa: E402
from tests.export.tensorrt.graphs import conv_graph  # noqa: E402


def _frames():
    return np.random.default_rng(0).random((4, 32, 32, 32), dtype=np.float32)


def test_quantizes_the_convolution_with_zero_points_0():
    from onnx import numpy_helper

    model, details = quantize(conv_graph(quantize=False, channels=32), _frames(), 1)
    constants = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    zero_points = [constants[n.input[2]] for n in model.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")]
    assert zero_points and all(z.dtype == np.int8 and not z.any() for z in zero_points)
    assert details["quantized_convolutions"] == details["convolutions"] == 1


def test_leaves_onnxruntime_quantization_unpatched():
    """ModelOpt patches ONNX Runtime's calibrators while it runs; onnx-int8 in the same
    process must get ONNX Runtime's own functions back."""
    import inspect

    import onnxruntime.quantization.base_quantizer as base
    import onnxruntime.quantization.calibrate as calibrate
    import onnxruntime.quantization.qdq_quantizer as qdq

    quantize(conv_graph(quantize=False, channels=32), _frames(), 1)
    owners = [calibrate, *(c for c in vars(calibrate).values() if inspect.isclass(c)),
              qdq.QDQQuantizer, base.BaseQuantizer]
    foreign = [f"{getattr(o, '__name__', o)}.{name}" for o in owners for name, value in vars(o).items()
               if callable(value) and (getattr(value, "__module__", None) or "").startswith("modelopt")]
    assert not foreign


def test_refuses_a_method_modelopt_lacks():
    with pytest.raises(EdgeIRError, match="expected --calib-method minmax or entropy for trt-int8"):
        quantize(conv_graph(quantize=False, channels=32), _frames(), 1, method="percentile")
