"""``trt-fp16`` and ``trt-int8`` for ConvIR-S on this CPU: the command exits 0 with status
``onnx-only`` and the build line; the TRT-ready graphs pass the TensorRT check, run in ONNX
Runtime, keep FP32 where they must and stay close to FP32 (measured floors)."""

import contextlib
import io
import json

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="the onnx extra is not installed")
pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
pytest.importorskip("modelopt", reason="the tensorrt extra is not installed")
pytest.importorskip("albumentations", reason="the data extra is not installed")

from edgeir import cli  # noqa: E402
from edgeir.export.tensorrt import build_from_onnx  # noqa: E402
from edgeir.export.tensorrt.compat import check_graph  # noqa: E402
from edgeir.export.tensorrt.graph import fp32_compute_nodes  # noqa: E402
from edgeir.manifest import Manifest, manifest_path  # noqa: E402
from edgeir.runtimes import load  # noqa: E402
from edgeir.runtimes.tensorrt_engine import why_no_engine  # noqa: E402
from tests.export.tensorrt import recording_tensorrt  # noqa: E402

# slow: the two exports (ModelOpt FP16 conversion, INT8 calibration, CPU verification with
# FP16 emulated) take minutes on a 2-core CPU; the TensorRT check, FP16 emulation and the
# engine builder are covered quickly by tests/export/tensorrt/test_compat.py and
# test_emulate.py and tests/runtimes/test_tensorrt_engine.py.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(why_no_engine() is None, reason="TensorRT and a GPU are here: see tests/runtimes/test_tensorrt.py"),
]

FP16_EMULATED_FLOOR_DB = 70.0
"""Measured 78.9 dB for S on the demo weights at 256x256 (every FP16 tensor rounded)."""
INT8_FLOOR_DB = 45.0
"""Measured 50.9 dB on 2 held-out synthetic frames (8 calibration frames)."""


def _cli(*args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(args))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def fp16(tmp_path_factory):
    engine = tmp_path_factory.mktemp("trt16") / "s.engine"
    code, out, err = _cli("export", "--variant", "s", "--target", "trt-fp16", "--size", "256x256",
                          "-o", str(engine), "--json")
    assert code == 0, err
    return json.loads(out)


@pytest.fixture(scope="module")
def int8(tmp_path_factory):
    engine = tmp_path_factory.mktemp("trt8") / "s.engine"
    # A budget met as quantized: its record and line, for one more pass over the held-out frames.
    code, out, err = _cli("export", "--variant", "s", "--target", "trt-int8", "--size", "256x256",
                          "--calib-frames", "8", "--max-psnr-drop", "1.0", "-o", str(engine))
    assert code == 0, err
    return {"out": out, "onnx": engine.with_name("s.trt.onnx"), "engine": engine}


def test_json_says_onnx_only(fp16):
    assert fp16["status"] == "onnx-only" and fp16["artifact"] is None
    assert fp16["precision"] == "fp16" and fp16["onnx"].endswith("s.trt.onnx")
    assert fp16["manifest"] == str(manifest_path(fp16["onnx"]))
    assert fp16["build_engine"].startswith(f"edgeir build-engine {fp16['onnx']}")


def test_text_output_prints_the_build_lines(int8):
    assert "engine not built here" in int8["out"]
    assert f"edgeir build-engine {int8['onnx']} -o {int8['engine']}" in int8["out"]
    assert f"trtexec --onnx={int8['onnx']} --saveEngine={int8['engine']}" in int8["out"]
    assert not int8["engine"].exists()


def _graph_and_manifest(path):
    return onnx.load(str(path)), Manifest.read(manifest_path(path))


@pytest.mark.parametrize("which", ["fp16", "int8"])
def test_graph_passes_the_tensorrt_check_and_runs(which, fp16, int8):
    path = fp16["onnx"] if which == "fp16" else int8["onnx"]
    graph, manifest = _graph_and_manifest(path)
    assert manifest.details["tensorrt"]["compatibility"]["ok"]
    assert check_graph(graph, manifest.input_shapes).ok  # independently of the export's own record
    assert manifest.details["tensorrt"]["targets"] == ["10.x", "11.x"]
    assert manifest.details["tensorrt"]["profile"]["max"] == [1, 3, 256, 256]
    runtime = load(path)
    x = np.random.default_rng(1).random((1, 3, 256, 256), dtype=np.float32)
    assert runtime(x).shape == (1, 3, 256, 256) and runtime.info.backend == "onnxruntime"


def test_fp16_keeps_fp32_where_it_must(fp16):
    graph, manifest = _graph_and_manifest(fp16["onnx"])
    kept = fp32_compute_nodes(graph)
    assert {op for op, _ in kept} == {"ReduceMean", "InstanceNormalization", "Add"}
    assert [name for op, name in kept if op == "Add"] == manifest.details["fp32_nodes"]  # the input residual
    assert manifest.details["fp16_range"]["kept_fp32_nodes"] == []  # the demo weights fit FP16
    assert not any(op == "Conv" for op, _ in kept)
    cpu = manifest.details["cpu_check"]
    assert cpu["psnr_fp16_emulated_db"] >= FP16_EMULATED_FLOOR_DB
    # the emulation is the pessimistic figure: it rounds what ONNX Runtime's CPU kernels keep in FP32
    assert cpu["psnr_estimate_db"] == cpu["psnr_fp16_emulated_db"] < cpu["psnr_vs_fp32_graph_db"]


def test_int8_is_qdq_with_zero_points_0(int8):
    from onnx import numpy_helper

    graph, manifest = _graph_and_manifest(int8["onnx"])
    constants = {t.name: numpy_helper.to_array(t) for t in graph.graph.initializer}
    zero_points = [constants[n.input[2]] for n in graph.graph.node
                   if n.op_type in ("QuantizeLinear", "DequantizeLinear")]
    assert zero_points and all(z.dtype == np.int8 and not z.any() for z in zero_points)
    details = manifest.details
    assert details["quantized_convolutions"] == details["convolutions"] == 142
    assert {op for op, _ in fp32_compute_nodes(graph)} == {"ReduceMean", "InstanceNormalization"}
    assert details["cpu_check"]["psnr_estimate_db"] >= INT8_FLOOR_DB
    assert details["psnr_vs_fp32_graph_db"] >= INT8_FLOOR_DB
    # --max-psnr-drop 1.0, held with FP16 storage emulated
    assert details["within_budget"] and details["psnr_drop_db"] <= 1.0
    assert details["restored_to"] == "FP16" and details["higher_precision_convolutions"] == []
    assert details["budget_search"]["tried"] == [{"restored": 0, "psnr_drop_db": details["psnr_drop_db"]}]
    assert f"budget    PSNR drop {details['psnr_drop_db']} dB vs sharp frames" in int8["out"]


def test_build_engine_from_the_graph_with_a_recording_double(fp16, tmp_path):
    """The bookkeeping of build-engine: engine file and its manifest (runtime tensorrt).
    The double records calls and returns placeholder bytes: nothing here is an engine."""
    trt = recording_tensorrt.make("11.0.0")
    engine, manifest = build_from_onnx(fp16["onnx"], tmp_path / "s.engine", dynamic=None, trt=trt)
    assert engine.read_bytes() == b"placeholder, not an engine"
    written = Manifest.read(manifest_path(engine))
    assert written.runtime == "tensorrt" and written.target == "trt-fp16"
    assert written.details["engine"]["tensorrt"] == "11.0.0"
    assert written.details["engine"]["onnx_sha256"] == Manifest.read(manifest_path(fp16["onnx"])).artifact["sha256"]
    assert ("profile.set_shape", ("input", (1, 3, 256, 256), (1, 3, 256, 256), (1, 3, 256, 256))) in trt.calls


def test_build_engine_refuses_a_profile_the_graph_cannot_take(fp16, tmp_path):
    from edgeir.errors import EdgeIRError

    with pytest.raises(EdgeIRError, match="the graph fixes it to 256"):
        build_from_onnx(fp16["onnx"], tmp_path / "s.engine", dynamic="256x256:512x512",
                        trt=recording_tensorrt.make("10.13.0"))
    assert not (tmp_path / "s.engine").exists()
