"""ExecuTorch targets: the XNNPACK-delegated program matches PyTorch and runs through the
backend; INT8 stays close to FP32 over a range of sizes; options are refused before work."""

import numpy as np
import pytest

from edgeir import EdgeIRError
from edgeir.export import export
from edgeir.export.gate import FP32_MAX_ABS
from edgeir.runtimes import load

pytest.importorskip("executorch", reason="the executorch extra is not installed")
slow = pytest.mark.slow  # lowering ConvIR-S to XNNPACK takes one to four minutes


@pytest.mark.parametrize("target, options, message", [
    ("executorch", {"calib": "synthetic"}, "target executorch does not accept --calib"),
    ("executorch-int8", {"keep_fp32": ["Conv"]}, "does not accept --keep-fp32"),
    ("executorch-int8", {"calib_frames": 1}, "expected --calib-frames of at least 2"),
    ("executorch", {"output": "s.onnx"}, r"ending in \.pte"),
])
def test_bad_options_are_refused_before_work(target, options, message, tmp_path):
    from edgeir.export.pipeline import prepare

    options.setdefault("output", tmp_path / "s.pte")
    with pytest.raises(EdgeIRError, match=message):
        prepare(target, **options)


@pytest.fixture(scope="module")
def program(random_checkpoint, tmp_path_factory):
    return export("executorch", weights=random_checkpoint, shape=(256, 256),
                  output=tmp_path_factory.mktemp("et") / "s.pte")


@slow
def test_matches_pytorch_and_says_what_was_delegated(program):
    manifest = program.manifest
    assert manifest.target == "executorch" and manifest.precision == "fp32"
    assert manifest.parity["max_abs"] < FP32_MAX_ABS  # the randomised weights' outputs reach 1.5e-4 here
    delegation = manifest.details["delegation"]
    assert delegation["delegated_subgraphs"] > 0 and delegation["delegated_nodes"] > delegation["portable_nodes"]


@slow
def test_the_backend_runs_what_the_export_verified(program, random_checkpoint):
    from edgeir.runtimes.torch_backend import TorchRuntime

    runtime = load(program.artifact)
    assert runtime.info.backend == "executorch" and runtime.info.precision == "fp32"
    x = np.random.default_rng(3).random((1, 3, 256, 256), dtype=np.float32)
    expected = TorchRuntime(random_checkpoint)(x)
    np.testing.assert_allclose(runtime(x), expected, atol=FP32_MAX_ABS)
    with pytest.raises(EdgeIRError, match="static 1x3x256x256 input, found 1x3x288x256"):
        runtime(np.zeros((1, 3, 288, 256), np.float32))


@slow
def test_int8_over_a_range_runs_at_every_size_close_to_fp32(random_checkpoint, tmp_path):
    from edgeir.runtimes.torch_backend import TorchRuntime

    result = export("executorch-int8", weights=random_checkpoint, dynamic="256x256:256x256:320x288",
                    calib="synthetic", calib_frames=8, output=tmp_path / "s8.pte")
    details = result.manifest.details
    assert result.manifest.precision == "int8" and details["psnr_vs_fp32_graph_db"] > 30
    assert details["fp32_modules"] == ["ExportableDynamicFilter", "ExportableDeepPoolLayer", "SCM"]
    runtime, reference = load(result.artifact), TorchRuntime(random_checkpoint)
    for size in ((256, 256), (320, 288)):
        x = np.random.default_rng(1).random((1, 3, *size), dtype=np.float32)
        error = runtime(x) - reference(x)
        assert 10 * np.log10(1 / np.mean(error**2)) > 30
