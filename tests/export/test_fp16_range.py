"""The FP16 range check: tensors near FP16's limit found on calibration frames, the nodes
that make and read them kept in FP32, and an overflowing checkpoint exported safely by every
FP16 target (onnx-fp16, openvino-fp16, trt-fp16, coreml), with one warning and one record."""

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


# The other FP16 targets: one range check, one warning, one record; each target keeps the
# layers in its own way. Small graphs cover each mechanism; of the overflowing checkpoint's
# exports, OpenVINO's (15-45 s on 2 cores) runs by default, Core ML's and TensorRT's
# (minutes) are marked slow.

RECORD_KEYS = {"limit", "headroom", "peak", "peak_tensor", "over", "kept_fp32_nodes", "note"}
RISKY = FP16_MAX / HEADROOM * 1.5


def _two_convs(scale: float) -> onnx.ModelProto:
    """x -> Conv (x scale) -> Relu -> Mul by 1/scale -> Sigmoid -> Conv -> z: the first three
    nodes see values beyond the bound, the last two do not (the Sigmoid keeps OpenVINO from
    folding the Mul into the last Conv's weights)."""
    model = _graph(scale)
    graph = model.graph
    graph.node.extend([helper.make_node("Sigmoid", ["y"], ["squashed"], name="squash"),
                       helper.make_node("Conv", ["squashed", "w_safe"], ["z"], name="safe_conv")])
    graph.initializer.append(numpy_helper.from_array(np.full((3, 3, 1, 1), 0.3, np.float32), "w_safe"))
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 3, 4, 4]))
    return model


def test_one_warning_names_the_kept_layers_and_their_peaks(caplog):
    import logging

    x = np.ones((1, 3, 4, 4), np.float32)
    with caplog.at_level(logging.WARNING, logger="edgeir"):
        ranges = check_range(_two_convs(RISKY), [x])
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warning == ranges.warning()
    for node in ("big_conv", "relu", "shrink"):
        assert f"{node} (peak {ranges.node_peaks[node]:.4g})" in warning
    assert "safe_conv" not in warning and ranges.makers == ["big_conv", "relu"]
    assert set(ranges.record()) == set(ranges.record("how a target keeps them")) == RECORD_KEYS
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="edgeir"):
        check_range(_two_convs(RISKY), [x], warn_now=False)  # a target that may refuse warns itself
    assert not caplog.records


def test_openvino_marks_the_kept_layers_and_keeps_their_weights_in_fp32(tmp_path):
    ov = pytest.importorskip("openvino", reason="the openvino extra is not installed")
    from edgeir.export.openvino import _with_fp16_weights, fp16_range_ops, marked_fp32

    model = _two_convs(RISKY)
    ranges = check_range(model, [np.ones((1, 3, 4, 4), np.float32)])
    onnx.save(model, str(tmp_path / "g.onnx"))
    converted = ov.convert_model(str(tmp_path / "g.onnx"))
    keep = fp16_range_ops(converted, ranges)
    # OpenVINO renames the last Mul after the graph output; it is found as a reader.
    assert sorted(op.get_type_name() for op in keep) == ["Convolution", "Multiply", "Relu"]
    written = _with_fp16_weights(converted, keep)
    assert sorted(marked_fp32(written)) == sorted(op.get_friendly_name() for op in keep)
    ov.save_model(written, str(tmp_path / "g.xml"), compress_to_fp16=False)  # as the product saves it
    types = _ir_weight_types(tmp_path / "g.xml")
    assert types.pop("big_conv") == "f32" and list(types.values()) == ["f16"]  # the safe one, renamed


def _ir_weight_types(xml):
    """Element type of the weights each Convolution of an IR reads (through any Convert)."""
    import xml.etree.ElementTree as ET

    root = ET.parse(str(xml)).getroot()
    layers = {layer.get("id"): layer for layer in root.iter("layer")}
    into = {(e.get("to-layer"), e.get("to-port")): e.get("from-layer") for e in root.iter("edge")}
    found = {}
    for layer in layers.values():
        if layer.get("type") != "Convolution":
            continue
        source = layers[into[(layer.get("id"), "1")]]
        while source.get("type") == "Convert":
            source = layers[into[(source.get("id"), "0")]]
        found[layer.get("name")] = source.find("data").get("element_type")
    return found


def test_trt_graph_keeps_what_the_range_check_keeps():
    pytest.importorskip("modelopt", reason="the tensorrt extra is not installed")
    from onnxruntime.transformers.float16 import convert_float_to_float16

    from edgeir.export.tensorrt.graph import fp16_graph, not_fp32

    model = _two_convs(RISKY)
    graph, details = fp16_graph(model, np.ones((2, 3, 4, 4), np.float32))
    record = details["fp16_range"]
    assert set(record) == RECORD_KEYS and record["kept_fp32_nodes"] == ["big_conv", "relu", "shrink"]
    assert set(record["kept_fp32_nodes"]) <= set(details["fp32_nodes"])
    assert not_fp32(graph, record["kept_fp32_nodes"]) == []
    plain = convert_float_to_float16(model, keep_io_types=True)
    assert not_fp32(plain, record["kept_fp32_nodes"]) == ["big_conv", "relu", "shrink"]


def test_trt_graph_keeps_what_autocasts_data_max_keeps_from_the_measured_peaks(monkeypatch):
    # |x| of 1000 is within FP16's bound but over AutoCast's data_max (512): AutoCast's own
    # rule, applied to the range check's peaks; its reference run, which holds every tensor
    # of every frame (out of memory at 384x640), is not made
    pytest.importorskip("modelopt", reason="the tensorrt extra is not installed")
    import modelopt.onnx.autocast.convert as autocast

    from edgeir.export.tensorrt.graph import fp16_graph, not_fp32

    def no_reference_run(*args, **kwargs):
        raise AssertionError("AutoCast's reference runner was started")

    monkeypatch.setattr(autocast, "ReferenceRunner", no_reference_run)
    graph, details = fp16_graph(_two_convs(1000.0), np.ones((2, 3, 4, 4), np.float32))
    assert details["fp16_range"]["kept_fp32_nodes"] == []
    assert details["fp32_over_data_max"] == {"data_max": autocast.DEFAULT_DATA_MAX, "nodes": ["big_conv", "relu", "shrink"]}
    assert not_fp32(graph, ["big_conv", "relu", "shrink"]) == [] and not_fp32(graph, ["safe_conv"]) == ["safe_conv"]


class _Block(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.main = torch.nn.Sequential(torch.nn.Conv2d(4, 4, 3, padding=1), torch.nn.GELU(),
                                        torch.nn.Conv2d(4, 4, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.main(x)


class _Tiny(torch.nn.Module):
    """Two ModuleLists, as ConvIR has: ``blocks.1`` overflows; ``others.1`` has the same
    module path as Core ML records it (``1/main/...``)."""

    def __init__(self) -> None:
        super().__init__()
        self.head, self.tail = torch.nn.Conv2d(3, 4, 1), torch.nn.Conv2d(4, 3, 1)
        self.blocks = torch.nn.ModuleList([_Block(), _Block()])
        self.others = torch.nn.ModuleList([_Block(), _Block()])
        with torch.no_grad():
            for p in self.blocks[1].main[0].parameters():
                p.mul_(1e5)
            self.blocks[1].main[2].weight.div_(1e5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.head(x)
        for block in (*self.blocks, *self.others):
            z = block(z)
        return x + self.tail(z)


@pytest.mark.parametrize("image_input", [False, True])
def test_coreml_keeps_the_modules_of_the_kept_layers_in_fp32(image_input):
    pytest.importorskip("coremltools", reason="the coreml extra is not installed")
    from edgeir.export.coreml.convert import ImageIO, convert
    from edgeir.export.coreml.convert import trace as trace_torchscript
    from edgeir.export.coreml.fp16 import KeepFP32, check_kept
    from edgeir.export.coreml.program import summary
    from edgeir.export.graph import trace as trace_onnx
    from edgeir.shapes import InputShapes

    shapes = InputShapes((32, 32), (32, 32), (32, 32), static=True)
    network = _Tiny().eval()
    x = np.random.default_rng(0).random((1, 3, 32, 32), dtype=np.float32)
    ranges = check_range(trace_onnx(network, shapes), [x], warn_now=False)
    assert ranges.kept_nodes and all(n.startswith("/blocks.1/main/") for n in ranges.kept_nodes)
    module = ImageIO(network) if image_input else network
    prefix = ("network",) if image_input else ()
    mlmodel = convert(trace_torchscript(module, shapes), shapes, "fp16", image_input, "iOS16",
                      KeepFP32(ranges, prefix))
    kept = check_kept(mlmodel, ranges, prefix)
    # blocks.1's conv, GELU and conv, and the same path in others (1/main/...); nothing else
    # in the network (an image input adds its 1/255 scaling, which Core ML computes in FP32)
    assert sorted(op.split(" ")[0] for op in kept if "/" in op) == [
        "1/main/0/conv", "1/main/0/conv", "1/main/1/gelu", "1/main/1/gelu", "1/main/2/conv", "1/main/2/conv"]
    assert len(kept) == 6 + image_input
    program = summary(mlmodel.get_spec())
    assert program["compute_dtype"] == "FLOAT16" and program["compute"]["FLOAT32"] == len(kept)


def test_coreml_refuses_layers_it_cannot_find():
    pytest.importorskip("coremltools", reason="the coreml extra is not installed")
    from edgeir import EdgeIRError
    from edgeir.export.coreml.convert import convert
    from edgeir.export.coreml.convert import trace as trace_torchscript
    from edgeir.export.coreml.fp16 import check_kept
    from edgeir.export.fp16_range import RangeCheck
    from edgeir.shapes import InputShapes

    shapes = InputShapes((32, 32), (32, 32), (32, 32), static=True)
    mlmodel = convert(trace_torchscript(torch.nn.Conv2d(3, 3, 1).eval(), shapes), shapes, "fp16", False, "iOS16")
    lost = "/nowhere/Conv"
    ranges = RangeCheck({"t": 1e6}, [lost], {"t": 1e6}, {lost: 1e6}, [lost])
    with pytest.raises(EdgeIRError, match=r"found 1 that has no Core ML op: /nowhere/Conv \(peak 1e\+06\); "
                                          r"export with --precision fp32$"):
        check_kept(mlmodel, ranges)


def test_openvino_fp16_export_marks_the_overflowing_layers(overflowing_checkpoint, tmp_path):
    ov = pytest.importorskip("openvino", reason="the openvino extra is not installed")
    from edgeir.export.openvino import marked_fp32
    from edgeir.runtimes.openvino_backend import precision_name

    result = export("openvino-fp16", weights=overflowing_checkpoint, output=tmp_path / "o.xml", shape=(256, 256))
    details = result.manifest.details
    record = details["fp16_range"]
    assert set(record) == RECORD_KEYS and record["over"] and record["kept_fp32_nodes"]
    model = ov.Core().read_model(str(result.artifact))
    assert set(details["fp32_ops"]) <= set(marked_fp32(model))  # the IR written carries the marks
    types = _ir_weight_types(result.artifact)
    kept = [name for name in details["fp32_ops"] if name in types]
    assert len(kept) == 2 and all(types.pop(name) == "f32" for name in kept)  # the block's two convolutions
    assert set(types.values()) == {"f16"}
    # This CPU computes in bf16 or f32 (no FP16 arithmetic), which hold the peaks: what can
    # be run here is the parity the export gated. Where a CPU has FP16, it keeps them too.
    core = ov.Core()
    if "FP16" not in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        assert details["cpu_inference_precision"] in ("bf16", "f32")
        return
    compiled = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f16"})
    assert precision_name(compiled) == "f16"
    x = np.random.default_rng(0).random((1, 3, 256, 256), dtype=np.float32)
    assert np.isfinite(compiled(x)[0]).all()


@pytest.mark.slow  # two Core ML exports of ConvIR-S (and an ONNX trace for the check): 3 minutes
def test_coreml_fp16_export_keeps_the_overflowing_layers(overflowing_checkpoint, tmp_path):
    ct = pytest.importorskip("coremltools", reason="the coreml extra is not installed")
    from edgeir.export.coreml.program import summary

    result = export("coreml", weights=overflowing_checkpoint, output=tmp_path / "o.mlpackage", shape=(256, 256))
    details = result.manifest.details
    record = details["fp16_range"]
    assert set(record) == RECORD_KEYS and record["kept_fp32_nodes"]
    block = "0/layers/0/main/"  # Encoder.0.layers.0 (and Decoder.0.layers.0, which Core ML names alike)
    assert {op.split(" ")[0] for op in details["fp32_ops"]} == {
        f"{block}0/main/0/conv", f"{block}0/main/1/gelu", f"{block}2/main/0/conv"}
    written = summary(ct.models.MLModel(str(result.artifact), skip_model_load=True).get_spec())
    assert written == details["program"] and written["compute_dtype"] == "FLOAT16"
    assert written["compute"]["FLOAT32"] == len(details["fp32_ops"])
    # --precision fp32 needs no check
    fp32 = export("coreml", weights=overflowing_checkpoint, output=tmp_path / "f.mlpackage", shape=(256, 256),
                  precision="fp32")
    assert "fp16_range" not in fp32.manifest.details and fp32.manifest.details["program"]["compute_dtype"] == "FLOAT32"


@pytest.mark.slow  # ModelOpt AutoCast on ConvIR-S and an ONNX export: about 2.5 minutes on 2 cores
def test_trt_fp16_export_keeps_the_overflowing_layers(overflowing_checkpoint, tmp_path):
    pytest.importorskip("modelopt", reason="the tensorrt extra is not installed")
    from onnxruntime.transformers.float16 import convert_float_to_float16

    from edgeir.export.parity import compare
    from edgeir.export.tensorrt.emulate import emulation_session
    from edgeir.export.tensorrt.graph import not_fp32

    result = export("trt-fp16", weights=overflowing_checkpoint, output=tmp_path / "o.engine", shape=(256, 256))
    details = result.manifest.details
    record = details["fp16_range"]
    assert set(record) == RECORD_KEYS and record["kept_fp32_nodes"]
    assert set(record["kept_fp32_nodes"]) <= set(details["fp32_nodes"])
    graph = onnx.load(result.extra["onnx"])
    assert not_fp32(graph, record["kept_fp32_nodes"]) == []
    # FP16 storage emulated: the plain conversion loses the frame, the TRT-ready graph does not.
    fp32 = onnx.load(str(export("onnx", weights=overflowing_checkpoint, output=tmp_path / "fp32.onnx",
                                shape=(256, 256)).artifact))
    x = np.random.default_rng(0).random((1, 3, 256, 256), dtype=np.float32)
    plain = convert_float_to_float16(fp32, keep_io_types=True)
    assert not np.isfinite(emulation_session(plain).run(None, {INPUT_NAME: x})[0]).all()
    safe = emulation_session(graph).run(None, {INPUT_NAME: x})[0]
    assert np.isfinite(safe).all() and compare(run_onnx(fp32, x), safe)["psnr_db"] >= 50
