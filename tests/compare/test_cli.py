"""``edgeir compare``: JSON, the plot, and user errors as one line."""

from __future__ import annotations

import json
import shutil

from edgeir.cli import main
from edgeir.manifest import Manifest, manifest_path


def test_identical_artifacts_give_infinite_psnr_no_jump_json_and_plot(exported_s, tmp_path, capsys):
    plot = tmp_path / "plots" / "layers.png"
    onnx = str(exported_s.artifact)
    assert main(["compare", onnx, onnx, "--count", "1", "--json", "--plot", str(plot)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["matched"] == len(data["layers"]) == 144 and data["unmatched"] == {"a": 0, "b": 0}
    assert {layer["psnr_db"] for layer in data["layers"]} == {None}  # identical: null, not a string
    assert {layer["max_abs"] for layer in data["layers"]} == {0.0}
    assert data["jump"] is None and data["worst"] is None
    assert data["output"] == {"psnr_db": None, "max_abs": 0.0}
    assert set(data["layers"][0]) == {"index", "name", "a", "b", "psnr_db", "max_abs"}
    assert plot.read_bytes()[:4] == b"\x89PNG"


def _error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("edgeir: error: expected") and "\n" not in err, err
    return err


def test_user_errors_are_one_line(exported_s, tmp_path, capsys):
    onnx = str(exported_s.artifact)
    assert main(["compare", onnx, str(tmp_path / "missing.onnx")]) == 1
    assert "found nothing" in _error(capsys)
    engine = tmp_path / "s.engine"
    engine.write_bytes(b"not an engine")
    assert main(["compare", str(engine), "torch"]) == 1
    assert "only on the GPU that built it" in _error(capsys)
    assert main(["compare", "torch", "pytorch"]) == 1
    _error(capsys)
    assert main(["compare", onnx, onnx, "--weights", "demo"]) == 1
    _error(capsys)
    alone = tmp_path / "alone.onnx"
    shutil.copy(exported_s.artifact, alone)
    assert main(["compare", onnx, str(alone)]) == 1
    assert "manifest" in _error(capsys)


def test_artifacts_of_another_task_are_refused(exported_s, tmp_path, capsys):
    other = tmp_path / "derain.onnx"
    shutil.copy(exported_s.artifact, other)
    manifest = Manifest.read(manifest_path(exported_s.artifact))
    manifest.task = "deraining"
    manifest.write(manifest_path(other))
    assert main(["compare", str(exported_s.artifact), str(other)]) == 1
    assert "one variant and task" in _error(capsys)
