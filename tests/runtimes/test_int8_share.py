"""What really ran in INT8, read from real runtimes on tiny graphs whose MACs are known by
hand: ONNX Runtime's profile of an FP32, a static Q/DQ and a dynamically quantized graph,
OpenVINO's runtime graph of the same models; nothing measurable for runtimes that do not
show their kernels; the measured session left as it was."""

import json
import subprocess
import sys
import tempfile

import numpy as np
import pytest

pytest.importorskip("onnxruntime.quantization", reason="the ort extra is not installed")
pytest.importorskip("onnx", reason="the onnx extra is not installed")

from edgeir.errors import EdgeIRError  # noqa: E402
from edgeir.models.registry import get_task  # noqa: E402
from edgeir.runtimes import RuntimeInfo, load  # noqa: E402
from edgeir.runtimes.int8_share import (  # noqa: E402
    ConvMacs,
    conv_macs,
    int8_mac_share,
    ort_profile_conv_macs,
)
from tests.runtimes import tiny_conv  # noqa: E402

H, W = 64, 48
X = np.random.default_rng(0).random((1, 3, H, W), dtype=np.float32)


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    made = {}
    for transposed in (False, True):
        fp32 = tiny_conv.build(folder, transposed)
        tail = "-t" if transposed else ""
        made[f"fp32{tail}"], made[f"qdq{tail}"] = fp32, tiny_conv.quantize(fp32)
        made[f"dynamic{tail}"] = tiny_conv.quantize(fp32, "dynamic")
    return made


def test_fp32_onnx_runs_no_convolution_in_int8(graphs):
    convs, transposed = tiny_conv.conv_macs_by_hand(H, W, transposed=True)
    macs = conv_macs(load(graphs["fp32-t"]), X)
    assert macs.share == 0.0 and macs.int8 == 0
    assert macs.total == convs + transposed  # ConvTranspose counted per input element
    assert macs.kernels == {"Conv float": convs, "ConvTranspose float": transposed}


def test_quantized_onnx_runs_its_convolutions_in_int8(graphs):
    convs, transposed = tiny_conv.conv_macs_by_hand(H, W, transposed=True)
    assert int8_mac_share(load(graphs["qdq"]), X) == 1.0
    macs = conv_macs(load(graphs["qdq-t"]), X)
    assert macs.kernels["QLinearConv uint8"] == convs and macs.total == convs + transposed
    assert macs.int8 >= convs  # ONNX Runtime 1.32 runs the Q/DQ ConvTranspose in FP32: 62%
    dynamic = conv_macs(load(graphs["dynamic"]), X)
    assert dynamic.share == 1.0 and set(dynamic.kernels) == {"ConvInteger uint8"}


def test_the_profile_is_a_twin_session_of_its_own(graphs, tmp_path, monkeypatch):
    """The measured session keeps running unprofiled, and the profile file goes away."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    runtime = load(graphs["qdq"], threads=1)
    before = runtime.session.get_session_options()
    assert conv_macs(runtime, X).share == 1.0
    assert list(tmp_path.iterdir()) == []
    options = runtime.session.get_session_options()
    assert options.enable_profiling is False and options.intra_op_num_threads == before.intra_op_num_threads == 1
    assert runtime.session.run(None, {"x": X})[0].shape == (1, 16, H, W)


def test_a_profile_without_weight_shapes_is_refused_not_guessed():
    """Prepacked weights leave the weight out of the profile's inputs."""
    event = {"cat": "Node", "name": "c1_kernel_time",
             "args": {"op_name": "QLinearConv", "input_type_shape": [{"uint8": [1, 32, 32, 3]}, {"float": []}],
                      "output_type_shape": [{"uint8": [1, 32, 32, 8]}]}}
    with pytest.raises(EdgeIRError, match="expected the weight shape of QLinearConv c1_kernel_time"):
        ort_profile_conv_macs([event])


def test_kernels_a_provider_fused_out_of_sight_measure_nothing():
    fused = {"cat": "Node", "name": "TRTKernel_graph_0_kernel_time",
             "args": {"op_name": "TRTKernel_graph_0", "input_type_shape": [{"float": [1, 3, 8, 8]}],
                      "output_type_shape": [{"float": [1, 3, 8, 8]}]}}
    session = {"cat": "Session", "name": "model_run", "args": {}}
    assert ort_profile_conv_macs([fused, session]).share is None
    assert ConvMacs().share is None


def test_runtimes_that_do_not_show_their_kernels_are_not_measured():
    class Elsewhere:
        info = RuntimeInfo("tensorrt", "int8", "cuda:0", get_task("motion-deblur").dilations)

    assert conv_macs(Elsewhere(), X) is None and int8_mac_share(Elsewhere(), X) is None


@pytest.fixture(scope="module")
def openvino_irs(graphs, tmp_path_factory):
    ov = pytest.importorskip("openvino", reason="the openvino extra is not installed")
    folder = tmp_path_factory.mktemp("ir")
    irs = {}
    for name in ("fp32-t", "qdq"):
        irs[name] = folder / f"{name}.xml"
        ov.save_model(ov.convert_model(str(graphs[name])), str(irs[name]))
    return irs


def test_openvino_runtime_precisions(openvino_irs):
    """The runtime graph after one inference (the IRs have dynamic H and W); the Q/DQ graph's
    convolutions run on u8 primitives where the CPU has INT8 kernels (x86 with AVX2 or more)."""
    convs, transposed = tiny_conv.conv_macs_by_hand(H, W, transposed=True)
    fp32 = conv_macs(load(openvino_irs["fp32-t"]), X)
    assert fp32.share == 0.0 and fp32.total == convs + transposed  # f32, or bf16 where the CPU has it
    quantized = conv_macs(load(openvino_irs["qdq"]), X)
    assert quantized.total == convs and quantized.share > 0.9, quantized.kernels


def test_the_module_imports_neither_torch_nor_onnx():
    code = ("import sys, edgeir.runtimes.int8_share; "
            "print(sorted(m for m in ('torch', 'onnx', 'onnxruntime', 'openvino') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout.replace("'", '"')) == []
