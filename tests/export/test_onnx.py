"""ONNX export: parity with the faithful model, manifest, atomic writes, FP16."""

import json

import numpy as np
import pytest
import torch

from edgeir import EdgeIRError, cli
from edgeir.export import export
from edgeir.fileio import sha256_of
from edgeir.manifest import Manifest, manifest_path
from edgeir.models.weights import DEMO_DESCRIPTION, choose_weights
from edgeir.runtimes import load
from tests.conftest import PARITY_ERRORS, random_model

onnx = pytest.importorskip("onnx", reason="the onnx extra is not installed")
ort = pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")

TOLERANCE = 1e-4


def _session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("shape", [(1, 3, 256, 256), (1, 3, 320, 512), (2, 3, 256, 384)])
def test_round_trip_matches_faithful_model(exported_s, shape):
    x = np.random.default_rng(1).random(shape, dtype=np.float32)
    with torch.no_grad():
        expected = random_model("s")(torch.from_numpy(x))[2].numpy()
    got = _session(exported_s.artifact).run(None, {"input": x})[0]
    error = float(np.abs(got - expected).max())
    PARITY_ERRORS.append(error)
    assert error < TOLERANCE


def test_graph_is_dynamic(exported_s):
    graph = onnx.load(str(exported_s.artifact)).graph
    dims = [d.dim_param or d.dim_value for d in graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 3, "height", "width"]
    assert [o.name for o in graph.output] == ["output"]


def test_manifest_round_trips_and_matches_artifact(exported_s):
    path = manifest_path(exported_s.artifact)
    assert path == exported_s.manifest_path
    manifest = Manifest.read(path)
    assert manifest == exported_s.manifest
    assert manifest.artifact["sha256"] == sha256_of(exported_s.artifact)
    assert manifest.weights["sha256"] and manifest.weights["path"].endswith("convir_s_random.pkl")
    assert manifest.input == {"name": "input", "layout": "NCHW", "dtype": "float32",
                              "range": [0.0, 1.0], "color": "RGB"}
    assert manifest.size_rule == {"multiple": 32, "minimum": 256}
    assert manifest.opset == 20 and manifest.shapes["mode"] == "dynamic"
    assert {"torch", "onnx", "onnxruntime", "edgeir"} <= set(manifest.versions)
    assert manifest.parity["max_abs"] < TOLERANCE and manifest.parity["psnr_db"] > 100


def test_metadata_props_carry_the_manifest(exported_s):
    props = {p.key: p.value for p in onnx.load(str(exported_s.artifact)).metadata_props}
    assert props["edgeir.target"] == "onnx" and props["edgeir.variant"] == "s"
    from_graph = Manifest.from_metadata(props)
    expected = exported_s.manifest.to_dict()
    expected.pop("artifact")
    got = from_graph.to_dict()
    got.pop("artifact")
    assert got == expected


def test_default_weights_are_named(tmp_path, capsys):
    output = tmp_path / "static.onnx"
    assert cli.main(["export", "--target", "onnx", "--size", "256x256", "-o", str(output), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert {"artifact", "manifest", "target", "precision", "parity"} <= set(summary)
    assert summary["artifact"] == str(output) and summary["precision"] == "fp32"
    assert summary["weights"] == DEMO_DESCRIPTION
    recorded = Manifest.read(summary["manifest"]).weights
    assert recorded["kind"] == "demo" and recorded["sha256"] == choose_weights("s", "motion-deblur").record()["sha256"]
    assert load(output).info.weights == DEMO_DESCRIPTION
    # --size gives a static graph, and the runtime holds inputs to it
    dims = [d.dim_value for d in onnx.load(str(output)).graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 3, 256, 256]
    with pytest.raises(EdgeIRError, match="static 1x3x256x256"):
        load(output)(np.zeros((1, 3, 256, 288), np.float32))


@pytest.fixture(scope="module")
def exported_fp16(random_checkpoint, tmp_path_factory):
    output = tmp_path_factory.mktemp("fp16") / "convir_s_fp16.onnx"
    return export("onnx-fp16", weights=random_checkpoint, output=output,
                  dynamic="256x256:512x512")


def test_fp16_graph(exported_fp16):
    model = onnx.load(str(exported_fp16.artifact))
    graph = model.graph
    elem = onnx.TensorProto
    assert graph.input[0].type.tensor_type.elem_type == elem.FLOAT
    assert graph.output[0].type.tensor_type.elem_type == elem.FLOAT
    weights = [i for i in graph.initializer if len(i.dims) == 4]
    assert weights and all(i.data_type == elem.FLOAT16 for i in weights)
    inferred = onnx.shape_inference.infer_shapes(model).graph
    types = {v.name: v.type.tensor_type.elem_type for v in [*inferred.value_info, *inferred.input]}
    kept = [n for n in graph.node if n.op_type in ("InstanceNormalization", "ReduceMean")]
    assert kept and all(types[n.input[0]] == elem.FLOAT for n in kept)
    residual = [n for n in graph.node if n.name in exported_fp16.manifest.details["fp32_nodes"]]
    assert len(residual) == 1 and all(types[i] == elem.FLOAT for i in residual[0].input)


def test_fp16_manifest_reports_psnr_vs_fp32(exported_fp16):
    manifest = exported_fp16.manifest
    assert manifest.precision == "fp16"
    assert manifest.details["psnr_vs_fp32_graph_db"] > 60
    assert "ONNX Runtime CPU" in manifest.details["note"]
    runtime = load(exported_fp16.artifact)
    assert runtime.info.precision == "fp16"
    x = np.random.default_rng(2).random((1, 3, 256, 256), dtype=np.float32)
    with torch.no_grad():
        expected = random_model("s")(torch.from_numpy(x))[2].numpy()
    assert np.abs(runtime(x) - expected).max() < 0.05


@pytest.mark.slow
def test_round_trip_b(tmp_path):
    weights = tmp_path / "b.pkl"
    torch.save({"model": random_model("b").state_dict()}, weights)
    result = export("onnx", variant="b", weights=weights, output=tmp_path / "b.onnx")
    for shape in [(1, 3, 256, 256), (1, 3, 320, 512), (2, 3, 256, 256)]:
        x = np.random.default_rng(3).random(shape, dtype=np.float32)
        with torch.no_grad():
            expected = random_model("b")(torch.from_numpy(x))[2].numpy()
        got = _session(result.artifact).run(None, {"input": x})[0]
        assert np.abs(got - expected).max() < TOLERANCE


def test_stale_manifest_is_refused(exported_s, tmp_path):
    other = tmp_path / "other.onnx"
    other.write_bytes(exported_s.artifact.read_bytes() + b"\0")
    manifest_path(other).write_text(exported_s.manifest_path.read_text())
    with pytest.raises(EdgeIRError, match="sha256 differs"):
        load(other)


def test_task_given_must_match_the_artifact(exported_s):
    with pytest.raises(EdgeIRError, match="expected task derain as given, found a motion-deblur model"):
        load(exported_s.artifact, task="derain")
