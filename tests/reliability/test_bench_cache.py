"""The bench's export cache read back (issue 36, items 7 and 10): ``OUT/models`` holds each
artifact with its manifest and a ``*.bench.json`` record (what was asked, the sha256, the
export time). An artifact changed since its export (one weight zeroed, manifest untouched)
or a damaged record is exported again with a line saying why: never reused, never a
failure of the target.

The exporter is a double (``fake_export``) that writes an artifact in its runtime's layout
(ONNX: one file; OpenVINO: ``.xml`` and ``.bin``) and a manifest recording their sha256
as the export pipeline does, so each case runs in milliseconds; what is checked is the
cache, which hashes the files as ``edgeir.runtimes.load`` does.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from edgeir.bench import BenchConfig, harness
from edgeir.bench.evalset import open_evalset
from edgeir.bench.steps import Steps
from edgeir.manifest import manifest_path
from tests.reliability.conftest import fake_export


@pytest.fixture
def exports(monkeypatch):
    """The targets the double exported, in order."""
    import edgeir.export

    made: list[str] = []

    def export(target, **kwargs):
        made.append(target)
        return fake_export(target, **kwargs)

    monkeypatch.setattr(edgeir.export, "export", export)
    monkeypatch.setattr(harness, "why_skipped", lambda target: None)  # the double needs no exporter package
    return made


def _config(out: Path) -> BenchConfig:
    return BenchConfig("s", "motion-deblur", "random", open_evalset("synthetic", "motion-deblur", (256, 256), limit=1),
                       out, runs=1, warmup=0)


class _Said(Steps):
    """The lines a bench step says (its warnings), as the progress bar would show them."""

    def __init__(self):
        self.lines: list[str] = []

    def say(self, line: str) -> None:
        self.lines.append(line)


def _zero_a_weight(path: Path) -> None:
    """Four bytes in the middle set to zero (one float32 weight, or a byte of the XML)."""
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    assert data[middle:middle + 4] != bytes(4)
    data[middle:middle + 4] = bytes(4)
    path.write_bytes(bytes(data))


@pytest.mark.correct_result
@pytest.mark.parametrize("target", ["onnx", "openvino"])
def test_an_untouched_export_is_reused(tmp_path, exports, target):
    config = _config(tmp_path)
    artifact, seconds, cached = harness.export_target(config, target)
    assert cached is False
    assert harness.export_target(config, target) == (artifact, seconds, True)
    assert exports == [target]


@pytest.mark.correct_result
@pytest.mark.parametrize("target, changed", [("onnx", ".onnx"), ("openvino", ".bin"), ("openvino", ".xml")])
def test_a_tampered_artifact_is_exported_again(tmp_path, exports, caplog, target, changed):
    """The issue's case: one weight zeroed, the manifest and record untouched. Before: the
    record's sha matched the manifest's, the file was reused and then refused on load
    ("skipped: ... a manifest of another file", rc 0, never re-exported)."""
    config = _config(tmp_path)
    artifact, _, _ = harness.export_target(config, target)
    original = artifact.with_suffix(changed).read_bytes()
    _zero_a_weight(artifact.with_suffix(changed))
    with caplog.at_level(logging.WARNING, logger="edgeir"):
        again, _, cached = harness.export_target(config, target)
    assert cached is False and exports == [target, target] and again == artifact
    assert artifact.with_suffix(changed).read_bytes() == original  # the double wrote it afresh
    warning = f"{artifact.name}: exporting again, the cached export does not match its record"
    assert warning in caplog.text and "sha256 differs" in caplog.text
    assert harness.export_target(config, target)[2] is True  # and the new export is the cache's


RECORDS = {
    "without export_s": lambda r: json.dumps({k: v for k, v in r.items() if k != "export_s"}),
    "export_s a string": lambda r: json.dumps({**r, "export_s": "soon"}),
    "export_s NaN": lambda r: json.dumps({**r, "export_s": float("nan")}),
    "sha256 a number": lambda r: json.dumps({**r, "sha256": 7}),
    "request a list": lambda r: json.dumps({**r, "request": []}),
    "a list": lambda r: "[1]",
    "not JSON": lambda r: "{oops",
    "empty": lambda r: "",
    "100000 nested brackets": lambda r: "[" * 100000 + "]" * 100000,
}


@pytest.mark.correct_result
@pytest.mark.parametrize("damage", list(RECORDS))
def test_a_damaged_cache_record_means_export_again(tmp_path, exports, damage):
    """Before: ``onnx failed: 'export_s'`` (or the list's AttributeError, the string's
    ValueError) where the record was cut short or edited."""
    config = _config(tmp_path)
    artifact, _, _ = harness.export_target(config, "onnx")
    record = artifact.with_name(artifact.name + ".bench.json")
    record.write_text(RECORDS[damage](json.loads(record.read_text())))
    said = _Said()
    assert harness.prepare(config, "onnx", said) is None  # the bench's own step: not a failed target
    assert exports == ["onnx", "onnx"]
    assert len(said.lines) == 1, said.lines  # one line says why
    assert said.lines[0].startswith(f"exporting: {artifact.name}: exporting again, its cache record is damaged: "
                                    "expected")
    assert str(record) in said.lines[0] and "\n" not in said.lines[0]
    assert json.loads(record.read_text())["export_s"] >= 0  # a whole record again
    assert harness.export_target(config, "onnx")[2] is True


@pytest.mark.correct_result
def test_a_record_of_another_request_is_exported_again_quietly(tmp_path, exports, caplog):
    """Asked otherwise (another batch): a new export, not a warning."""
    config = _config(tmp_path)
    harness.export_target(config, "onnx")
    config.batch = 2
    with caplog.at_level(logging.WARNING, logger="edgeir"):
        assert harness.export_target(config, "onnx")[2] is False
    assert exports == ["onnx", "onnx"] and caplog.text == ""


MANIFESTS = {
    "not JSON": (lambda m: "{oops", "expected JSON in a manifest"),
    "artifact a list": (lambda m: json.dumps({**m, "artifact": []}), "expected artifact to be an object or null in"),
    "weights_file out of the folder": (
        lambda m: json.dumps({**m, "artifact": {**m["artifact"], "weights_file": "../x.bin"}}), "found '../x.bin' (absolute paths and .. are refused)"),
}


@pytest.mark.correct_result
@pytest.mark.parametrize("damage", list(MANIFESTS))
def test_a_damaged_manifest_in_the_cache_means_export_again(tmp_path, exports, caplog, damage):
    config = _config(tmp_path)
    artifact, _, _ = harness.export_target(config, "openvino")
    change, why = MANIFESTS[damage]
    manifest_path(artifact).write_text(change(json.loads(manifest_path(artifact).read_text())))
    with caplog.at_level(logging.WARNING, logger="edgeir"):
        assert harness.export_target(config, "openvino")[2] is False
    assert exports == ["openvino", "openvino"]
    assert f"{artifact.name}: exporting again, the cached export does not match its record: " in caplog.text
    assert why in caplog.text
