"""Artifacts: every file of an artifact is verified on load, a manifest edited by hand is
refused, a model edgeir did not export is refused or run with what is assumed said, and a
runtime's own errors arrive as one line."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from edgeir import EdgeIRError
from edgeir.manifest import manifest_path
from edgeir.runtimes import load

pytestmark = pytest.mark.clear_error


def _copy(artifact, folder, *companions):
    folder.mkdir(exist_ok=True)
    for path in (artifact, manifest_path(artifact), *companions):
        shutil.copy(path, folder / path.name)
    return folder / artifact.name


def test_a_damaged_openvino_bin_of_the_same_size_is_refused(exported_openvino, tmp_path):
    xml = _copy(exported_openvino.artifact, tmp_path, exported_openvino.artifact.with_suffix(".bin"))
    weights = xml.with_suffix(".bin")
    data = bytearray(weights.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 4096] = bytes(4096)
    weights.write_bytes(bytes(data))
    with pytest.raises(EdgeIRError, match="s.bin that s.xml.manifest.json records, found a different file"):
        load(xml)


EDITS = {
    "range widened": lambda m: m["shapes"].__setitem__("max", [4096, 4096]),
    "min a string": lambda m: m["shapes"].__setitem__("min", "256x256"),
    "static size changed": lambda m: m["shapes"].update(mode="static", opt=[512, 512]),
    "precision changed": lambda m: m.__setitem__("precision", "int8"),
    "artifact a list": lambda m: m.__setitem__("artifact", []),
    "details a string": lambda m: m.__setitem__("details", "fp16"),
}


@pytest.mark.parametrize("edit", EDITS, ids=list(EDITS))
@pytest.mark.parametrize("kind", ["onnx", "openvino"])
def test_a_manifest_edited_by_hand_is_refused(exported_s, exported_openvino, tmp_path, edit, kind):
    source = exported_s if kind == "onnx" else exported_openvino
    extra = [source.artifact.with_suffix(".bin")] if kind == "openvino" else []
    artifact = _copy(source.artifact, tmp_path, *extra)
    sidecar = manifest_path(artifact)
    data = json.loads(sidecar.read_text())
    EDITS[edit](data)
    sidecar.write_text(json.dumps(data))
    with pytest.raises(EdgeIRError, match="expected sizes as|match the copy embedded|to be an object or null in"):
        load(artifact)


@pytest.mark.correct_result
@pytest.mark.parametrize("kind", ["onnx", "openvino"])
def test_deleting_an_edited_manifest_falls_back_to_the_embedded_copy(exported_s, exported_openvino, tmp_path,
                                                                     kind):
    source = exported_s if kind == "onnx" else exported_openvino
    extra = [source.artifact.with_suffix(".bin")] if kind == "openvino" else []
    artifact = _copy(source.artifact, tmp_path, *extra)
    manifest_path(artifact).unlink()
    runtime = load(artifact)
    assert runtime.info.shapes == source.manifest.input_shapes
    assert runtime.info.manifest.weights == source.manifest.weights


@pytest.mark.parametrize("companion", ["../outside.bin", "/etc/passwd", "link.bin"])
def test_a_weights_file_outside_the_artifacts_folder_is_refused(exported_openvino, tmp_path, companion):
    """A manifest names the IR's .bin; it must not lead the loader (or its hash check) to a
    file outside the artifact's folder, by a path or by a symlink."""
    xml = _copy(exported_openvino.artifact, tmp_path / "model", exported_openvino.artifact.with_suffix(".bin"))
    shutil.copy(xml.with_suffix(".bin"), tmp_path / "outside.bin")
    (xml.parent / "link.bin").symlink_to(tmp_path / "outside.bin")
    sidecar = manifest_path(xml)
    data = json.loads(sidecar.read_text())
    data["artifact"]["weights_file"] = companion
    sidecar.write_text(json.dumps(data))
    with pytest.raises(EdgeIRError, match="weights_file of s.xml.manifest.json .*inside") as error:
        load(xml)
    assert "\n" not in str(error.value)


def _foreign_onnx(path, dims, reshape_to=None):
    """A graph edgeir did not export: an Identity (or a Reshape to a fixed shape, which
    ONNX Runtime refuses at run time for other sizes), with no metadata."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    if reshape_to is None:
        nodes, inits = [helper.make_node("Identity", ["x"], ["y"])], []
    else:
        shape = helper.make_tensor("shape", TensorProto.INT64, [len(reshape_to)], reshape_to)
        nodes, inits = [helper.make_node("Reshape", ["x", "shape"], ["y"])], [shape]
    graph = helper.make_graph(nodes, "foreign", [x], [y], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


@pytest.mark.parametrize("dims", [[1, 1, 8, 8], [1, 3, 8], ["N", 4, "H", "W"]])
def test_a_foreign_onnx_whose_input_is_not_an_image_batch_is_refused(tmp_path, dims):
    pytest.importorskip("onnxruntime")
    path = _foreign_onnx(tmp_path / "foreign.onnx", dims)
    with pytest.raises(EdgeIRError, match="input is N x 3 x H x W"):
        load(path)


def test_a_runtime_error_is_one_line_naming_the_artifact_and_the_input(tmp_path):
    pytest.importorskip("onnxruntime")
    path = _foreign_onnx(tmp_path / "fixed.onnx", ["N", 3, "H", "W"], reshape_to=[1, 3, 256, 256])
    runtime = load(path)
    with pytest.raises(EdgeIRError, match=r"expected an input fixed.onnx accepts .*1x3x288x288 float32") as error:
        runtime(np.zeros((1, 3, 288, 288), np.float32))
    assert "\n" not in str(error.value)


@pytest.mark.correct_result
def test_a_foreign_onnx_runs_and_the_cli_says_what_it_assumes(tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    from edgeir.cli import main
    from edgeir.data.io import read_image, write_image

    model = _foreign_onnx(tmp_path / "identity.onnx", ["N", 3, "H", "W"])
    frame = np.random.default_rng(0).integers(0, 256, (40, 48, 3), dtype=np.uint8)
    write_image(tmp_path / "in.png", frame)
    assert main(["run", str(model), str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png")]) == 0
    err = capsys.readouterr().err
    assert "no edgeir manifest or metadata: assuming N x 3 x H x W float32 RGB in [0, 1]" in err
    assert np.array_equal(read_image(tmp_path / "out.png"), frame)


def test_openvino_errors_come_without_the_cpp_location(exported_openvino):
    runtime = load(exported_openvino.artifact)
    with pytest.raises(EdgeIRError) as error:
        runtime._run(np.zeros((1, 3, 8, 8), np.float32))  # past the checks, into OpenVINO
    assert "Exception from src" not in str(error.value) and "\n" not in str(error.value)
