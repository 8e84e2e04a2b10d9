"""FP16 storage emulation: each FP16 tensor rounded, computed in FP32, nothing folded away."""

import numpy as np
import pytest

pytest.importorskip("onnx", reason="the onnx extra is not installed")
pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")

from edgeir.export.tensorrt.emulate import emulate_fp16, emulation_session  # noqa: E402
from tests.export.tensorrt.graphs import fp16_chain  # noqa: E402


def test_emulated_graph_is_fp32_and_rounds_between_ops():
    from onnx import TensorProto

    model = fp16_chain()
    emulated = emulate_fp16(model)
    assert all(t.data_type == TensorProto.FLOAT for t in emulated.graph.initializer)
    x = np.random.default_rng(0).uniform(0, 1, (1, 3, 4, 4)).astype(np.float32)
    out = emulation_session(model).run(None, {"input": x})[0]
    # numpy: FP32 arithmetic on FP16-rounded operands, each result rounded to FP16
    third, big = np.float32(np.float16(1 / 3)), np.float32(np.float16(1000.0))
    m = (x.astype(np.float16).astype(np.float32) * third).astype(np.float16).astype(np.float32)
    expected = (m + big).astype(np.float16).astype(np.float32)
    np.testing.assert_array_equal(out, expected)
    # near 1000 FP16 steps are 0.5 apart: the emulation must show that loss of precision
    assert np.abs(out - (x / 3 + 1000)).max() > 0.1
