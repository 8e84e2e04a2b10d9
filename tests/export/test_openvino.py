"""OpenVINO targets: f32 pinned and exact, FP16 and INT8 run and say their precision."""


import numpy as np
import pytest
import torch

from edgeir import EdgeIRError
from edgeir.export import export
from edgeir.manifest import Manifest, manifest_path
from edgeir.models import exportable
from edgeir.runtimes import load
from tests.conftest import random_model

pytest.importorskip("openvino", reason="the openvino extra is not installed")
pytest.importorskip("onnxslim", reason="the onnx extra is not installed")

TOLERANCE = 1e-4
INT8_FLOOR_DB = 40.0
"""OpenVINO INT8 (NNCF defaults) against the FP32 IR on held-out frames, demo weights,
256x256; measured values are in docs/benchmarks.md."""


@pytest.fixture
def fp32_ir(exported_openvino):
    return exported_openvino


def test_f32_is_pinned_and_equals_the_rewrite(fp32_ir):
    manifest = Manifest.read(fp32_ir.manifest_path)
    assert manifest.runtime_options == {"INFERENCE_PRECISION_HINT": "f32"}
    assert fp32_ir.artifact.with_suffix(".bin").is_file()
    assert manifest.artifact["weights_file"] == "s.bin"
    runtime = load(fp32_ir.artifact)
    assert runtime.info.backend == "openvino" and runtime.info.precision == "fp32"
    reference = exportable(random_model("s"))
    for shape in ((1, 3, 256, 256), (1, 3, 256, 320)):
        x = torch.rand(*shape)
        with torch.no_grad():
            expected = reference(x).numpy()
        assert np.abs(runtime(x.numpy()) - expected).max() <= TOLERANCE


def test_fp16_reports_what_the_cpu_computes(random_checkpoint, fp32_ir, tmp_path):
    from edgeir.export.openvino import precision_name

    result = export("openvino-fp16", weights=random_checkpoint, output=tmp_path / "h.xml",
                    shape=(256, 256))
    runtime = load(result.artifact)
    assert result.manifest.precision == "fp16" and result.manifest.runtime_options == {}
    computed = {"f32": "fp32", "bf16": "bf16", "f16": "fp16"}[precision_name(runtime.compiled)]
    assert runtime.info.precision == computed
    assert result.manifest.details["cpu_inference_precision"] == precision_name(runtime.compiled)
    if computed != "fp16":
        assert any(f"fp16 weights computed in {computed}" in n for n in runtime.info.notes)
    fp32_bin = fp32_ir.artifact.with_suffix(".bin").stat().st_size
    assert result.artifact.with_suffix(".bin").stat().st_size < 0.6 * fp32_bin
    x = np.random.default_rng(0).random((1, 3, 256, 256), dtype=np.float32)
    assert np.abs(runtime(x) - load(fp32_ir.artifact)(x)).max() < 0.05
    # the parity figures were measured on the FP16 weights that were written
    from edgeir.export.pipeline import parity_input
    from edgeir.models import load_checkpoint

    probe, _ = parity_input(1, (256, 256), None)
    with torch.no_grad():
        reference = exportable(load_checkpoint(random_checkpoint))(torch.from_numpy(probe)).numpy()
    written = float(np.abs(runtime(probe) - reference).max())
    assert written == pytest.approx(result.manifest.parity["max_abs"], rel=1e-3)


@pytest.fixture(scope="module")
def int8_ir(tmp_path_factory):
    pytest.importorskip("nncf", reason="the openvino extra is not installed")
    pytest.importorskip("albumentations", reason="the data extra is not installed")
    out = tmp_path_factory.mktemp("ov8") / "s8.xml"
    return export("openvino-int8", output=out, shape=(256, 256), calib_frames=12)


def test_int8_runs_and_stays_close(int8_ir):
    details = int8_ir.manifest.details
    assert int8_ir.manifest.weights["kind"] == "demo"
    assert details["calibration"]["frames"] == 9 and details["calibration"]["held_out"] == 3
    assert details["psnr_vs_fp32_graph_db"] >= INT8_FLOOR_DB
    runtime = load(int8_ir.artifact)
    assert runtime.info.precision == "int8 (fp32 elsewhere)"
    import openvino as ov

    from edgeir.calib.nncf_int8 import higher_precision_convolutions

    model = ov.Core().read_model(str(int8_ir.artifact))
    convolutions = [op for op in model.get_ordered_ops() if op.get_type_name() == "Convolution"]
    left = higher_precision_convolutions(model)
    assert left == details["higher_precision_convolutions"]
    assert len(left) < len(convolutions) / 4  # most convolutions run in INT8
    # the default --keep-fp32: the sensitive block, and nothing else left in higher precision
    (kept,) = details["kept_fp32"]
    assert kept.startswith("/Decoder.2/") and left
    assert all(name.startswith(kept + "/") for name in left)
    quantized_inputs_of = {target.get_node().get_type_name() for op in model.get_ordered_ops()
                           if op.get_type_name() == "FakeQuantize"
                           for target in op.output(0).get_target_inputs()}
    assert quantized_inputs_of <= {"Convolution", "ConvolutionBackpropData"}  # convolutions only


def test_bad_requests(tmp_path, random_checkpoint):
    pytest.importorskip("nncf", reason="the openvino extra is not installed")
    frames = tmp_path / "frames"
    frames.mkdir()
    with pytest.raises(EdgeIRError, match="does not accept --max-psnr-drop"):
        export("openvino", output=tmp_path / "a.xml", max_psnr_drop=0.5)
    with pytest.raises(EdgeIRError, match="expected --batch 1 with --max-psnr-drop"):
        export("openvino-int8", output=tmp_path / "a.xml", shape=(256, 256), batch=2, max_psnr_drop=0.5)
    with pytest.raises(EdgeIRError, match="found '/Nowhere', which lies under no module"):
        export("openvino-int8", weights=random_checkpoint, output=tmp_path / "b.xml",
               shape=(256, 256), calib_frames=4, keep_fp32=["/Nowhere"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames"]


def test_interrupted_write_leaves_nothing(tmp_path, random_checkpoint, monkeypatch):
    from edgeir import manifest as manifest_module

    def interrupted(self, path):
        raise KeyboardInterrupt

    monkeypatch.setattr(manifest_module.Manifest, "write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        export("openvino", weights=random_checkpoint, output=tmp_path / "c.xml", shape=(256, 256))
    assert list(tmp_path.iterdir()) == []
    assert not manifest_path(tmp_path / "c.xml").exists()


@pytest.mark.slow
def test_psnr_budget_is_met_or_refused(tmp_path, capsys):
    from edgeir import cli

    pytest.importorskip("nncf", reason="the openvino extra is not installed")
    budget = 0.01
    out = tmp_path / "d.xml"
    # Only the full-resolution levels are quantized (the sensitive block too: the user's list
    # replaces the default), so that NNCF ranks 44 layer groups, not ~140 (one compile each);
    # measured: 2 restored, drop 0.007 dB, 2.5 minutes.
    elsewhere = ["/Encoder.1", "/Encoder.2", "/Decoder.0", "/Decoder.1", "/SCM1", "/SCM2",
                 "/FAM1", "/FAM2", "/Convs.0", "/Convs.1", *(f"/feat_extract.{i}" for i in range(6))]
    code = cli.main(["export", "--target", "openvino-int8", "--size", "256x256", "--calib-frames", "12",
                     "--max-psnr-drop", str(budget), "--keep-fp32", *elsewhere, "-o", str(out)])
    captured = capsys.readouterr()
    if code == 1:  # NNCF could not meet it: refused, with the best drop it reached
        assert f"within a PSNR drop of at most {budget} dB" in captured.err and "NNCF" in captured.err
        assert not out.exists()
    else:
        assert code == 0
        details = Manifest.read(manifest_path(out)).details
        assert (f"budget    PSNR drop {details['psnr_drop_db']} dB vs sharp frames, within the {budget} dB budget"
                in captured.out)
        assert details["max_psnr_drop_db"] == budget and details["within_budget"]
        assert details["psnr_drop_db"] <= budget
        assert details["psnr_drop_db"] == pytest.approx(
            details["psnr_fp32_vs_sharp_db"] - details["psnr_int8_vs_sharp_db"], abs=0.01)
    with pytest.raises(EdgeIRError, match="sharp targets for --max-psnr-drop"):
        from edgeir.calib import from_synthetic

        calib = tmp_path / "c.npz"
        frames = from_synthetic((256, 256), count=4)
        frames.targets = None
        frames.save(calib)
        export("openvino-int8", output=tmp_path / "e.xml", shape=(256, 256), calib=str(calib),
               max_psnr_drop=budget)
