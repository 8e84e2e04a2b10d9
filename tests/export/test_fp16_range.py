"""The FP16 range check: tensors near FP16's limit found on calibration frames, the nodes
that make and read them kept in FP32, and an overflowing checkpoint exported safely."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("onnxslim", reason="the onnx extra is not installed")

import onnx  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from edgeir.export import export  # noqa: E402
from edgeir.export.fp16_range import FP16_MAX, HEADROOM, check_range, tensor_peaks  # noqa: E402
from edgeir.export.graph import run_onnx  # noqa: E402
from edgeir.models import INPUT_NAME  # noqa: E402
from tests.conftest import random_model  # noqa: E402


def _graph(scale: float) -> onnx.ModelProto:
    """x -> Conv (weights x scale) -> Relu -> Mul by 1/scale -> y."""
    weight = np.full((3, 3, 1, 1), scale / 3, np.float32)
    nodes = [helper.make_node("Conv", [INPUT_NAME, "w"], ["big"], name="big_conv"),
             helper.make_node("Relu", ["big"], ["relu"], name="relu"),
             helper.make_node("Mul", ["relu", "inverse"], ["y"], name="shrink")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, [1, 3, 4, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 4, 4])],
                              [numpy_helper.from_array(weight, "w"),
                               numpy_helper.from_array(np.array(1 / scale, np.float32), "inverse")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_peaks_are_the_largest_magnitudes_of_each_tensor():
    x = np.full((1, 3, 4, 4), 0.5, np.float32)
    peaks = tensor_peaks(_graph(10.0), [x, x * 2])
    assert peaks == pytest.approx({"big": 10.0, "relu": 10.0, "y": 1.0})


def test_tensors_near_the_limit_keep_their_makers_and_readers_in_fp32():
    x = np.ones((1, 3, 4, 4), np.float32)
    safe = check_range(_graph(1000.0), [x])
    assert safe.over == {} and safe.kept_nodes == []
    risky = check_range(_graph(FP16_MAX / HEADROOM * 1.5), [x])
    assert set(risky.over) == {"big", "relu"}
    assert risky.kept_nodes == ["big_conv", "relu", "shrink"]
    assert risky.record()["peak_tensor"] in ("big", "relu")


@pytest.fixture(scope="module")
def overflowing_checkpoint(tmp_path_factory):
    """The randomised ConvIR-S with the first convolution of the first residual block
    scaled up 1e5 times and the second scaled down as much: the block's output stays in
    range (GELU of large values is nearly linear), the tensors between pass FP16's limit."""
    state = {k: v.clone() for k, v in random_model("s").state_dict().items()}
    block = "Encoder.0.layers.0.main"
    for name in (f"{block}.0.main.0.weight", f"{block}.0.main.0.bias"):
        state[name] *= 1e5
    state[f"{block}.2.main.0.weight"] /= 1e5
    path = tmp_path_factory.mktemp("overflow") / "overflowing.pkl"
    torch.save({"model": state}, path)
    return path


def test_an_overflowing_checkpoint_exports_with_those_nodes_in_fp32(overflowing_checkpoint, tmp_path):
    from onnxruntime.transformers.float16 import convert_float_to_float16

    result = export("onnx-fp16", weights=overflowing_checkpoint, output=tmp_path / "fp16.onnx", shape=(256, 256))
    record = result.manifest.details["fp16_range"]
    assert record["over"] and record["peak"] >= FP16_MAX / HEADROOM
    assert set(record["kept_fp32_nodes"]) <= set(result.manifest.details["fp32_nodes"])
    assert result.manifest.details["psnr_vs_fp32_graph_db"] >= 40  # the gate held

    # With FP16 storage emulated (every FP16 tensor rounded, as a GPU stores it; ONNX
    # Runtime's CPU kernels would compute the FP16 chain in FP32 and hide the overflow),
    # the plain conversion loses the frame and edgeir's graph does not.
    from edgeir.export.tensorrt.emulate import emulation_session
    from edgeir.models import INPUT_NAME as name

    fp32 = export("onnx", weights=overflowing_checkpoint, output=tmp_path / "fp32.onnx", shape=(256, 256))
    plain = convert_float_to_float16(onnx.load(str(fp32.artifact)), keep_io_types=True)
    x = np.random.default_rng(0).random((1, 3, 256, 256), dtype=np.float32)
    assert not np.isfinite(emulation_session(plain).run(None, {name: x})[0]).all()
    safe = emulation_session(onnx.load(str(result.artifact))).run(None, {name: x})[0]
    assert np.isfinite(safe).all() and np.abs(safe - run_onnx(onnx.load(str(fp32.artifact)), x)).max() < 0.05
