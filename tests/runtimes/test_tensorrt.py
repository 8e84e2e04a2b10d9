"""The TensorRT backend: one-line errors where TensorRT or its GPU is missing, the engine's
origin check, and (only where TensorRT and a CUDA GPU are) real engines compared with ONNX
Runtime running the same graph."""

import importlib.util

import numpy as np
import pytest

from edgeir.errors import EdgeIRError
from edgeir.export.tensorrt.engine import why_no_engine
from edgeir.runtimes import load
from edgeir.runtimes.tensorrt_backend import check_engine_origin

HAS_TENSORRT = importlib.util.find_spec("tensorrt") is not None


@pytest.mark.skipif(HAS_TENSORRT, reason="tensorrt is installed here")
def test_loading_an_engine_without_tensorrt_says_what_is_missing(tmp_path):
    engine = tmp_path / "s.engine"
    engine.write_bytes(b"not read: the import fails first")
    with pytest.raises(EdgeIRError) as caught:
        load(engine)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("running TensorRT engines needs tensorrt, which is not installed")


def test_engine_origin():
    built = {"tensorrt": "10.13.0", "gpu": "Orin (nvgpu)"}
    assert check_engine_origin(built, "10.13.0", "Orin (nvgpu)") == []
    with pytest.raises(EdgeIRError, match="TensorRT 10.13.0 built it, this is TensorRT 11.0.0"):
        check_engine_origin(built, "11.0.0", "Orin (nvgpu)")
    with pytest.raises(EdgeIRError, match="built on a Orin \\(nvgpu\\), this GPU is a NVIDIA H100"):
        check_engine_origin(built, "10.13.0", "NVIDIA H100")
    assert "unchecked" in check_engine_origin(None, "10.13.0", "NVIDIA H100")[0]


@pytest.mark.gpu
@pytest.mark.skipif(why_no_engine() is not None, reason=f"needs TensorRT and a CUDA GPU: {why_no_engine()}")
@pytest.mark.parametrize("target", ["trt-fp16", "trt-int8"])
def test_engine_build_and_inference_match_onnxruntime(tmp_path, target):
    from edgeir.export import export
    from edgeir.export.parity import compare

    options = {"calib_frames": 8} if target == "trt-int8" else {}
    result = export(target, output=tmp_path / "s.engine", dynamic="256x256:512x512:768x768", **options)
    assert result.status == "ok" and result.artifact.is_file()
    engine, graph = load(result.artifact), load(result.extra["onnx"], device="cpu")
    assert engine.info.backend == "tensorrt"
    for size in ((256, 256), (512, 768)):
        x = np.random.default_rng(0).random((1, 3, *size), dtype=np.float32)
        agreement = compare(graph(x), engine(x))
        assert agreement["psnr_db"] is None or agreement["psnr_db"] >= (40 if target == "trt-int8" else 60), agreement


def test_device_time_brackets_only_the_queued_work():
    """CUDA events recorded on the stream just before and after the work, then waited on;
    a recording double of torch.cuda stands in for a GPU (none here), so the figure it
    returns is the double's, not a measurement."""
    from types import SimpleNamespace

    from edgeir.runtimes.base import time_on_stream

    calls = []

    class Event:
        def __init__(self, enable_timing):
            assert enable_timing

        def record(self, stream):
            calls.append(("record", stream))

        def synchronize(self):
            calls.append("wait")

        def elapsed_time(self, end):
            return 2.5

    fake_torch = SimpleNamespace(cuda=SimpleNamespace(Event=Event))
    assert time_on_stream(fake_torch, "stream", lambda: calls.append("work")) == 2.5
    assert calls == [("record", "stream"), "work", ("record", "stream"), "wait"]
