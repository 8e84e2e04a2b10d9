"""``edgeir export --target coreml`` and ``coreml-int8`` for ConvIR-S on any OS: packages
written with their manifest and metadata, the enumerated default, image I/O, W8 halving the
weights, W8A8 calibrated in PyTorch (slow), errors in one line; on macOS the package is run
and compared with PyTorch."""

import contextlib
import io
import json
import sys

import numpy as np
import pytest

ct = pytest.importorskip("coremltools", reason="the coreml extra is not installed")
pytest.importorskip("albumentations", reason="the data extra is not installed")

from edgeir import cli  # noqa: E402
from edgeir.export.coreml.program import summary, weights_size  # noqa: E402
from edgeir.manifest import Manifest, manifest_path  # noqa: E402

W8_FLOOR_DB = 55.0
"""Measured 67.5 dB: W8 against FP32 in PyTorch, S with the demo weights at 256x256
(python benchmarks/coreml.py, docs/benchmarks.md)."""


def _cli(*args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(args))
    return code, out.getvalue(), err.getvalue()


def _spec(package):
    return ct.models.MLModel(str(package), skip_model_load=True).get_spec()


@pytest.fixture(scope="module")
def fp16(tmp_path_factory):
    package = tmp_path_factory.mktemp("coreml") / "s.mlpackage"
    code, out, err = _cli("export", "--variant", "s", "--target", "coreml", "-o", str(package), "--json")
    assert code == 0, err
    return json.loads(out), package


@pytest.fixture(scope="module")
def w8_image(tmp_path_factory):
    package = tmp_path_factory.mktemp("coreml8") / "s8.mlpackage"
    code, out, err = _cli("export", "--variant", "s", "--target", "coreml-int8", "--quant", "w8",
                          "--size", "256x256", "--image-input", "-o", str(package))
    assert code == 0, err
    return out, package


def test_default_is_enumerated_fp16_with_manifest(fp16):
    summary_json, package = fp16
    assert summary_json["status"] == "ok" and summary_json["artifact"] == str(package)
    manifest = Manifest.read(manifest_path(package))
    assert manifest.runtime == "coreml" and manifest.precision == "fp16"
    assert manifest.shapes["mode"] == "enumerated"
    assert manifest.shapes["sizes"] == [[736, 1280], [256, 256], [512, 512], [1088, 1920]]
    declared = _spec(package).description.input[0].type.multiArrayType
    listed = [tuple(s.shape) for s in declared.enumeratedShapes.shapes]
    assert listed == [(1, 3, 736, 1280), (1, 3, 256, 256), (1, 3, 512, 512), (1, 3, 1088, 1920)]
    program = summary(_spec(package))
    assert program["compute_dtype"] == "FLOAT16" and program["not_in_compute_dtype"] == []
    assert manifest.details["program"] == program
    # the FP16 range check ran on the demo weights and kept nothing in FP32
    assert manifest.details["fp16_range"]["kept_fp32_nodes"] == manifest.details["fp32_ops"] == []
    # The traced module is the faithful model's computation, checked before conversion.
    assert manifest.parity["max_abs"] <= 1e-5


def test_metadata_describes_the_package(fp16):
    _, package = fp16
    model = ct.models.MLModel(str(package), skip_model_load=True)
    assert model.author.startswith("edgeir") and "multiples of 32" in model.short_description
    assert model.version
    keys = model.user_defined_metadata
    assert keys["edgeir.variant"] == "s" and keys["edgeir.task"] == "motion-deblur"
    assert json.loads(keys["edgeir.size_rule"]) == {"multiple": 32, "minimum": 256}
    restored = Manifest.from_metadata(dict(keys))
    assert restored is not None and restored.precision == "fp16"


@pytest.mark.slow  # a second conversion plus weight quantization: 1.5 minutes on 2 cores
def test_w8_halves_the_weights_and_takes_images(fp16, w8_image):
    out, package = w8_image
    manifest = Manifest.read(manifest_path(package))
    assert manifest.precision == "w8" and manifest.target == "coreml-int8"
    ratio = weights_size(package) / weights_size(fp16[1])
    assert 0.45 <= ratio <= 0.6, ratio
    program = summary(_spec(package))
    assert program["weights_8bit"] > 100 and program["compute_dtype"] == "FLOAT16"
    assert manifest.details["psnr_vs_fp32_pytorch_db"] >= W8_FLOOR_DB
    spec = _spec(package)
    image = spec.description.input[0].type.imageType
    assert (image.height, image.width) == (256, 256) and image.colorSpace == image.RGB
    assert spec.description.output[0].type.WhichOneof("Type") == "imageType"
    assert manifest.input["type"] == "image" and manifest.details["image_input"] is True
    assert "8-bit" in out and "Core ML predicts only on macOS" in out


@pytest.mark.slow
def test_w8a8_is_calibrated_in_pytorch(tmp_path):
    """The conversion and its record; the quality varies by frame (docs/benchmarks.md), and
    the export's own floor refuses a mean under 30 dB."""
    package = tmp_path / "s8a8.mlpackage"
    code, out, err = _cli("export", "--variant", "s", "--target", "coreml-int8", "--quant", "w8a8",
                          "--size", "256x256", "--calib-frames", "6", "-o", str(package), "--json")
    assert code == 0, err
    manifest = Manifest.read(manifest_path(package))
    details = manifest.details
    assert manifest.precision == "w8a8" and details["calibration"]["frames"] == 5
    assert details["calibration"]["held_out"] == 1 and details["psnr_measured_on"] == "1 held-out calibration frames"
    assert details["psnr_vs_fp32_pytorch_min_db"] <= details["psnr_vs_fp32_pytorch_db"]
    program = details["program"]
    assert program["activation_quantize_ops"] > 100 and program["weights_8bit"] > 100
    assert details["minimum_deployment_target"].startswith("iOS 17")


@pytest.mark.parametrize("args, message", [
    (["--target", "coreml-int8", "--calib", "synthetic"], "only with --quant w8a8"),
    (["--target", "coreml", "--sizes", "720x1280,256x256"], "multiples of 32"),
    (["--target", "onnx", "--sizes", "256x256"], "does not accept --sizes"),
    (["--target", "coreml", "--quant", "w8"], "does not accept --quant"),
    (["--target", "coreml", "--image-input", "--size", "256x256", "--batch", "2"], "--batch 1 with --image-input"),
])
def test_user_errors_are_one_line(tmp_path, args, message):
    output = tmp_path / ("x.onnx" if "onnx" in args else "x.mlpackage")
    code, out, err = _cli("export", "--variant", "s", *args, "-o", str(output))
    assert code != 0 and message in err, err
    assert "Traceback" not in err
    assert not output.exists() and not manifest_path(output).exists()


def test_one_shape_mode_at_a_time():
    from edgeir.errors import EdgeIRError
    from edgeir.export import export

    with pytest.raises(EdgeIRError, match="expected one of --size, --dynamic or --sizes, found --dynamic and --sizes"):
        export("coreml", dynamic="256x256:512x512", shapes="256x256")


@pytest.mark.skipif(sys.platform != "darwin", reason="Core ML predicts only on macOS")
def test_package_predicts_like_pytorch(fp16):
    import torch

    from edgeir.models.weights import choose_weights
    from edgeir.runtimes import load

    _, package = fp16
    runtime = load(package)
    x = np.random.default_rng(0).random((1, 3, 256, 256), dtype=np.float32)
    with torch.no_grad():
        expected = choose_weights("s", "motion-deblur").build("s", "motion-deblur").eval()(torch.from_numpy(x))[-1]
    found = runtime(x)
    mse = float(np.mean((found - expected.numpy()) ** 2))
    assert 10 * np.log10(1 / mse) >= 40.0
