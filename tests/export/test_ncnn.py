"""ncnn targets through the pipeline on ConvIR-S for deraining (whose smallest size, 128,
keeps a conversion to seconds): parity with PyTorch at two sizes of one graph, the FP16 and
INT8 records, the backend running what was verified, and options refused before work."""

import numpy as np
import pytest

from edgeir import EdgeIRError
from edgeir.export import export
from edgeir.export.pipeline import prepare
from edgeir.manifest import Manifest
from edgeir.models import exportable
from edgeir.runtimes import load
from tests.conftest import random_model

pytest.importorskip("pnnx", reason="the ncnn extra is not installed")
pytest.importorskip("ncnn", reason="the ncnn extra is not installed")

RANGE = "128x128:128x128:192x192"


@pytest.fixture(scope="module")
def derain_weights(tmp_path_factory):
    import torch

    path = tmp_path_factory.mktemp("w") / "derain.pth"
    torch.save({"model": random_model("s", "derain").state_dict()}, path)
    return path


@pytest.fixture(scope="module")
def fp16(derain_weights, tmp_path_factory):
    return export("ncnn", task="derain", weights=derain_weights, dynamic=RANGE,
                  output=tmp_path_factory.mktemp("ncnn") / "s.param")


@pytest.fixture(scope="module")
def int8(derain_weights, tmp_path_factory):
    return export("ncnn-int8", task="derain", weights=derain_weights, dynamic=RANGE, calib="synthetic",
                  calib_frames=8, output=tmp_path_factory.mktemp("ncnn8") / "s.param")


def _reference(x):
    import torch

    with torch.no_grad():
        return exportable(random_model("s", "derain"))(torch.from_numpy(x)).numpy()


def test_fp16_graph_matches_pytorch_at_two_sizes(fp16):
    manifest = Manifest.read(fp16.manifest_path)
    assert manifest.target == "ncnn" and manifest.precision == "fp16"
    assert manifest.parity["psnr_db"] > 60 and manifest.details["second_size"]["size"] == "160x192"
    assert manifest.details["second_size"]["psnr_db"] > 60
    assert manifest.runtime_options == {"use_fp16_storage": True, "use_fp16_arithmetic": True}
    assert manifest.details["fp16_range"]["kept_fp32_nodes"] == []
    assert manifest.artifact["weights_file"] == "s.bin" and fp16.artifact.with_suffix(".bin").is_file()
    assert manifest.versions["pnnx"] != "not installed"


def test_backend_runs_what_the_export_verified(fp16):
    runtime = load(fp16.artifact)
    assert runtime.info.backend == "ncnn" and runtime.info.shapes.describe().startswith("dynamic")
    x = np.random.default_rng(5).random((1, 3, 192, 160), dtype=np.float32)
    np.testing.assert_allclose(runtime(x), _reference(x), atol=1e-3)
    with pytest.raises(EdgeIRError, match="224x224"):
        runtime(np.zeros((1, 3, 224, 224), np.float32))


@pytest.mark.slow  # the INT8 format itself is tested in seconds in tests/calib/test_ncnn_int8.py
def test_int8_scales_the_convolutions_and_stays_close(int8):
    manifest = Manifest.read(int8.manifest_path)
    details = manifest.details
    assert manifest.precision == "int8" and manifest.runtime_options == {"use_int8_inference": True}
    assert details["int8_layers"] > 100 and details["calibration"]["held_out"] == 2
    assert 30 < details["psnr_vs_fp32_graph_db"] < 100
    assert int8.artifact.read_text().count(" 8=2") == details["int8_layers"]
    runtime = load(int8.artifact)
    assert runtime.info.precision == "int8"
    x = np.random.default_rng(6).random((1, 3, 128, 128), dtype=np.float32)
    assert 25 < 10 * np.log10(1 / np.mean((runtime(x) - _reference(x)) ** 2)) < 100


@pytest.mark.parametrize("target, options, message", [
    ("ncnn", {"batch": 2}, "expected --batch 1 for ncnn"),
    ("ncnn", {"calib": "synthetic"}, "target ncnn does not accept --calib"),
    ("ncnn-int8", {"calib_method": "entropy"}, "expected --calib-method minmax for ncnn-int8"),
    ("ncnn-int8", {"keep_fp32": ["Conv"]}, "does not accept --keep-fp32"),
    ("ncnn", {"output": "s.onnx"}, r"ending in \.param"),
])
def test_bad_options_are_refused_before_work(target, options, message, tmp_path):
    options.setdefault("output", tmp_path / "s.param")
    with pytest.raises(EdgeIRError, match=message):
        prepare(target, task="derain", **options)
