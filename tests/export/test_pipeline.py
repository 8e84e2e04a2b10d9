"""The export pipeline on a recording target (no conversion), and the options every real
target refuses before any work."""

from __future__ import annotations

import argparse
import json
import time

import pytest

from edgeir import EdgeIRError, cli
from edgeir.export import export, targets
from edgeir.export.gate import FP32_MAX_ABS, Gate
from edgeir.manifest import Manifest, manifest_path
from tests.export import recording_target

DOUBLE = targets.Target(
    "double", ".npy", "fp32", "numpy", "onnx", ("numpy",), {"opset": None}, "tests.export.recording_target",
    (Gate("parity.max_abs", FP32_MAX_ABS, "PyTorch"),), "a recording double of a target",
)


@pytest.fixture
def double(monkeypatch):
    monkeypatch.setitem(targets.TARGETS, "double", DOUBLE)
    monkeypatch.setattr(recording_target, "CALLS", [])
    monkeypatch.setattr(recording_target, "OFFSET", 0.0)
    return recording_target


def test_a_target_is_a_row_and_a_module(double, tmp_path):
    out = tmp_path / "model.npy"
    result = export("double", weights="random", output=out, shape=(256, 256))
    steps = [name for name, _ in double.CALLS]
    assert steps == ["check_options", "here", "make", "run", "embed", "save"]  # here: said before the work
    assert dict(double.CALLS)["make"] == (1, (256, 256))  # the batch and size it is verified at
    manifest = Manifest.read(manifest_path(out))
    assert manifest.target == "double" and manifest.artifact["file"] == "model.npy"
    (gate,) = manifest.parity["gates"]  # the gate, recorded in one form
    assert gate == {"figure": "parity.max_abs", "bound": FP32_MAX_ABS, "against": "PyTorch",
                    "found": manifest.parity["max_abs"]}
    assert manifest.parity["runtime"] == "numpy (a recording double)"
    assert result.lines[0] == f"double (fp32): {out}" and result.lines[-1] == "  double    recorded"
    # the parity line says what ran, where, in which precision, against what, on which input
    assert manifest.parity["compared"] == "the double artifact (fp32) in numpy (a recording double)"
    assert result.lines[2:4] == [
        "  parity    the double artifact (fp32) in numpy (a recording double)",
        "            against the PyTorch export rewrite, FP32, on 1x3x256x256 uniform [0,1), seed 0: PSNR "
        "identical, max abs 0.00e+00"]  # the double's output is the rewrite's


def test_the_gate_refuses_before_anything_is_written(double, tmp_path):
    double.OFFSET = 0.01
    with pytest.raises(EdgeIRError, match=r"parity check failed: expected the double artifact within max abs "
                                          r"error 0.001 of PyTorch, found max abs error 0.01; nothing was written"):
        export("double", weights="random", output=tmp_path / "model.npy", shape=(256, 256))
    assert [name for name, _ in double.CALLS] == ["check_options", "here", "make", "run"]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("where", ["save", "manifest"])
def test_an_interrupted_write_leaves_nothing(double, tmp_path, monkeypatch, where):
    """Every single-file target writes through the pipeline's atomic write."""
    def half_written(self, path):
        path.write_bytes(b"half")
        raise KeyboardInterrupt

    def interrupted(self, path):
        raise KeyboardInterrupt

    if where == "save":
        monkeypatch.setattr(double.RecordingProduct, "save", half_written)
    else:
        monkeypatch.setattr(Manifest, "write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        export("double", weights="random", output=tmp_path / "model.npy", shape=(256, 256))
    assert list(tmp_path.iterdir()) == []


def test_option_errors_come_before_the_network(double, tmp_path, monkeypatch):
    from edgeir.models.weights import Weights

    monkeypatch.setattr(Weights, "build", lambda *a: pytest.fail("the network was built"))
    with pytest.raises(EdgeIRError, match="does not accept --calib"):
        export("double", output=tmp_path / "m.npy", calib="synthetic")
    with pytest.raises(EdgeIRError, match="ending in .npy"):
        export("double", output=tmp_path / "m.onnx")
    assert double.CALLS == []


@pytest.fixture
def no_work(monkeypatch):
    """Fails a test that reaches the network or a trace (patched where every target's trace
    ends, so that no module binds the failing double by name)."""
    import torch

    from edgeir.models.weights import Weights

    monkeypatch.setattr(Weights, "build", lambda *a: pytest.fail("the network was built"))
    monkeypatch.setattr(torch.onnx, "export", lambda *a, **k: pytest.fail("the graph was traced"))
    monkeypatch.setattr(torch.jit, "trace", lambda *a, **k: pytest.fail("the module was traced"))


@pytest.mark.parametrize(("target", "options", "message"), [
    ("onnx-int8", {"keep_fp32": ["no.such.layer"]}, "an op type of ONNX, found 'no.such.layer'"),
    ("onnx-int8", {"keep_fp32": ["/Decoder.7"]}, "found '/Decoder.7', which lies under no module"),
    ("onnx-int8", {"keep_fp32": ["none", "Conv"]}, "none alone"),
    ("onnx-int8", {"int8_scheme": "arm"}, "expected --int8-scheme cpu or trt for onnx-int8, found 'arm'"),
    ("onnx-int8", {"calib": "missing/frames"}, "found nothing at 'missing/frames'"),
    ("onnx-int8", {"calib": "pairs:a"}, "expected gopro:DIR or pairs:BLUR_DIR,SHARP_DIR"),
    ("onnx-int8", {"calib_frames": 1}, "--calib-frames of at least 2"),
    ("onnx", {"opset": 9}, "--opset between 14 and 20"),
    ("openvino-int8", {"keep_fp32": ["Conv"]}, "an op type of OpenVINO, found 'Conv'"),
    ("trt-int8", {"calib_method": "percentile"}, "expected --calib-method minmax or entropy for trt-int8"),
    ("trt-fp16", {"workspace": 16}, "--workspace of at least 64 MB"),
    ("coreml", {"precision": "int4"}, "expected --precision fp16 or fp32 for coreml"),
    ("coreml-int8", {"quant": "w8", "calib": "synthetic"}, "only with --quant w8a8"),
])
def test_target_options_are_checked_before_any_work(no_work, tmp_path, target, options, message):
    suffix = targets.get_target(target).suffix
    with pytest.raises(EdgeIRError, match=message):
        export(target, output=tmp_path / f"m{suffix}", shape=(256, 256), **options)
    assert list(tmp_path.iterdir()) == []


def test_openvino_names_are_accepted_before_work(no_work, tmp_path, monkeypatch):
    """A scope and an op type OpenVINO has pass the early check (the pipeline then builds
    the network, which this test stops at)."""
    from edgeir.export.pipeline import prepare

    request = prepare("openvino-int8", output=tmp_path / "m.xml", shape=(256, 256),
                      keep_fp32=["/Decoder.2/layers/layers.3", "Convolution"])
    assert request.options["keep_fp32"] == ["/Decoder.2/layers/layers.3", "Convolution"]
    assert "calib_method" not in request.options  # not an option of openvino-int8
    assert request.options["max_psnr_drop"] is None


def test_cli_keep_fp32_typo_fails_at_once(capsys, tmp_path):
    started = time.perf_counter()
    code = cli.main(["export", "--target", "onnx-int8", "--keep-fp32", "no.such.layer",
                     "-o", str(tmp_path / "m.onnx")])
    elapsed = time.perf_counter() - started
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "no.such.layer" in err
    print(f"keep-fp32 typo refused in {elapsed:.2f} s")


def test_cli_flags_and_choices_come_from_the_table():
    parser = cli.build_parser()
    export_parser = next(a for a in parser._subparsers._group_actions[0].choices.values()
                         if a.prog.endswith("export"))
    flags = {a.dest: a for a in export_parser._actions if a.help != argparse.SUPPRESS}  # not the old names
    for option in targets.OPTIONS.values():
        assert tuple(flags[option.name].choices or ()) == (option.choices or ())
        assert flags[option.name].default is None  # unset options are not passed: never dropped silently


def test_json_summary_carries_the_gates(double, tmp_path):
    result = export("double", weights="random", output=tmp_path / "m.npy", shape=(256, 256))
    assert json.loads(json.dumps(result.summary()))["parity"]["gates"][0]["figure"] == "parity.max_abs"


def test_exports_say_first_what_this_machine_will_not_do(double, tmp_path, caplog):
    import logging
    import sys

    with caplog.at_level(logging.INFO, logger="edgeir"):
        export("double", weights="random", output=tmp_path / "model.npy", shape=(256, 256))
    assert caplog.messages[0] == "the double says what this machine will not do"
    from edgeir.export import coreml, tensorrt
    from edgeir.runtimes.tensorrt_engine import why_no_engine

    if why_no_engine() is not None:
        assert tensorrt.here(None).startswith(f"no engine will be built here ({why_no_engine()}): the TRT-ready")
    if sys.platform != "darwin":
        assert coreml.here(None).startswith("Core ML predicts only on macOS: the package is converted and checked")
