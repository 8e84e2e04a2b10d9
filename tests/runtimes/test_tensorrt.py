"""The TensorRT backend: one-line errors where TensorRT, cuda-python or a GPU is missing,
the engine's origin check, the runtime's calls end to end, that asking about TensorRT loads
neither torch nor tensorrt, and (only where TensorRT and a CUDA GPU are) real engines
compared with ONNX Runtime running the same graph.

The end-to-end tests use recording doubles: of the ``tensorrt`` module (an engine whose
"execution" copies its input buffer to its output buffer) and of cuda-python's ``cudart``
(tests/runtimes/recording_cudart.py, whose device memory is host bytearrays). They check
the calls, the bytes and the buffers' lifetimes; nothing here ran on a GPU or in TensorRT.
"""

import enum
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from edgeir.errors import EdgeIRError
from edgeir.runtimes import cuda, load
from edgeir.runtimes import tensorrt_backend as backend
from edgeir.runtimes.tensorrt_backend import TensorRTRuntime, check_engine_origin
from edgeir.runtimes.tensorrt_engine import why_no_engine
from tests.runtimes.recording_cudart import RecordingCudart, cudaMemcpyKind

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
        assert agreement["psnr_db"] >= (40 if target == "trt-int8" else 60), agreement


def test_device_time_brackets_only_the_queued_work():
    """CUDA events recorded on the stream just before and after the work, then waited on;
    a recording double of a timing event stands in for a GPU (none here), so the figure it
    returns is the double's, not a measurement."""
    from edgeir.runtimes.base import time_on_stream

    calls = []

    class Event:
        def record(self, stream):
            calls.append(("record", stream))

        def synchronize(self):
            calls.append("wait")

        def elapsed_time(self, end):
            return 2.5

    assert time_on_stream(Event, "stream", lambda: calls.append("work")) == 2.5
    assert calls == [("record", "stream"), "work", ("record", "stream"), "wait"]


def fake_tensorrt(cudart: RecordingCudart, dtype: str = "FLOAT") -> SimpleNamespace:
    """A recording double of the ``tensorrt`` runtime API: one engine with an ``input`` and
    an ``output`` of ``dtype``, whose execution copies the input's bytes to the output's in
    ``cudart``'s memory. Its calls go to ``cudart.calls``, so the order across both shows."""
    calls = cudart.calls

    class DataType(enum.Enum):
        FLOAT = "FLOAT"
        HALF = "HALF"
        INT8 = "INT8"

    class TensorIOMode(enum.Enum):
        INPUT = 1
        OUTPUT = 2

    class Context:
        def __init__(self):
            self.shape, self.addresses = None, {}

        def set_input_shape(self, name, shape):
            calls.append(("set_input_shape", (name, shape)))
            self.shape = shape
            return True

        def get_tensor_shape(self, name):
            return self.shape

        def set_tensor_address(self, name, ptr):
            calls.append(("set_tensor_address", (name, ptr)))
            self.addresses[name] = ptr

        def execute_async_v3(self, stream):
            calls.append(("execute_async_v3", (stream,)))
            source, target = self.addresses["input"], self.addresses["output"]
            nbytes = int(np.prod(self.shape)) * (2 if dtype == "HALF" else 4)
            cudart.memory[target][:nbytes] = cudart.memory[source][:nbytes]
            return True

    class Engine:
        num_io_tensors = 2

        def get_tensor_name(self, index):
            return ["input", "output"][index]

        def get_tensor_mode(self, name):
            return TensorIOMode.INPUT if name == "input" else TensorIOMode.OUTPUT

        def get_tensor_dtype(self, name):
            return DataType[dtype]

        def create_execution_context(self):
            calls.append(("create_execution_context", ()))
            return Context()

    class Runtime:
        def __init__(self, logger):
            pass

        def deserialize_cuda_engine(self, data):
            calls.append(("deserialize_cuda_engine", (data,)))
            return Engine()

    class Logger:
        WARNING = 2

        def __init__(self, level):
            pass

    return SimpleNamespace(__version__="10.13.0", Logger=Logger, Runtime=Runtime, DataType=DataType,
                           TensorIOMode=TensorIOMode)


@pytest.fixture
def doubles(monkeypatch):
    """(the cudart double, a function installing a tensorrt double of a given dtype)."""
    cudart = RecordingCudart(gpus=("NVIDIA Orin (nvgpu)",))
    monkeypatch.setattr(cuda, "_cudart", lambda: cudart)
    monkeypatch.setattr(cuda, "installed", lambda: True)

    def install(dtype="FLOAT"):
        monkeypatch.setitem(sys.modules, "tensorrt", fake_tensorrt(cudart, dtype))

    return cudart, install


def _engine(tmp_path):
    path = tmp_path / "s.engine"
    path.write_bytes(b"a serialized engine, as far as the double knows")
    return path


def _order(calls):
    keep = {"set_input_shape", "set_tensor_address", "execute_async_v3", "cudaMemcpyAsync",
            "cudaStreamSynchronize"}
    return [name for name, _ in calls if name in keep]


@pytest.mark.parametrize("dtype", ["FLOAT", "HALF"])
def test_runtime_end_to_end_against_doubles(tmp_path, doubles, dtype):
    cudart, install = doubles
    install(dtype)
    runtime = TensorRTRuntime(_engine(tmp_path), None, task="motion-deblur")
    assert runtime.info.device == "cuda:0 (NVIDIA Orin (nvgpu))"
    assert "unchecked" in runtime.info.notes[0]
    stream = runtime._stream.handle
    x = np.random.default_rng(0).random((1, 3, 256, 256), dtype=np.float32)
    expected_bytes = x.astype(np.float16 if dtype == "HALF" else np.float32).tobytes()

    cudart.calls.clear()
    y = runtime(x)
    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_array_equal(y, x.astype(np.float16).astype(np.float32) if dtype == "HALF" else x)
    assert _order(cudart.calls) == ["set_input_shape", "set_tensor_address", "set_tensor_address",
                                    "cudaMemcpyAsync", "execute_async_v3", "cudaMemcpyAsync",
                                    "cudaStreamSynchronize"]
    calls = dict(cudart.calls[::-1])  # the first call of each name
    assert calls["set_input_shape"] == ("input", (1, 3, 256, 256))
    addresses = dict(args for name, args in cudart.calls if name == "set_tensor_address")
    assert set(addresses) == {"input", "output"}
    assert calls["execute_async_v3"] == (stream,)
    assert calls["cudaStreamSynchronize"] == (stream,)
    upload = next(args for name, args in cudart.calls if name == "cudaMemcpyAsync")
    assert upload[0] == addresses["input"] and upload[3] == cudaMemcpyKind.cudaMemcpyHostToDevice
    assert upload[2] == len(expected_bytes)  # float16 bytes for a HALF engine
    assert bytes(cudart.memory[addresses["input"]][:len(expected_bytes)]) == expected_bytes
    allocations = len(cudart.allocated)
    assert allocations == 2

    cudart.calls.clear()
    x2 = x[:, :, ::-1].copy()
    np.testing.assert_array_equal(runtime(x2), x2.astype(np.float16).astype(np.float32) if dtype == "HALF" else x2)
    assert len(cudart.allocated) == allocations  # same shape: the buffers are reused
    assert _order(cudart.calls) == ["cudaMemcpyAsync", "execute_async_v3", "cudaMemcpyAsync",
                                    "cudaStreamSynchronize"]

    runtime.close()
    assert sorted(cudart.freed) == sorted(cudart.allocated) and not cudart.memory
    assert ("cudaStreamDestroy", (stream,)) in cudart.calls


def test_a_larger_frame_rebinds_and_regrows_the_buffers(tmp_path, doubles):
    cudart, install = doubles
    install()
    runtime = TensorRTRuntime(_engine(tmp_path), None, task="motion-deblur")
    small, large = (np.zeros((1, 3, 256, 256), np.float32), np.ones((1, 3, 256, 512), np.float32))
    runtime(small)
    first = list(cudart.allocated)
    np.testing.assert_array_equal(runtime(large), large)
    assert sorted(cudart.freed) == sorted(first) and len(cudart.allocated) == 4
    cudart.calls.clear()
    np.testing.assert_array_equal(runtime(small), small)  # smaller: rebound, not reallocated
    assert len(cudart.allocated) == 4 and _order(cudart.calls)[0] == "set_input_shape"
    runtime.close()
    assert sorted(cudart.freed) == sorted(cudart.allocated)


def test_device_timer_runs_execute_alone_between_events(tmp_path, doubles):
    cudart, install = doubles
    install()
    runtime = TensorRTRuntime(_engine(tmp_path), None, task="motion-deblur")
    timer = runtime.device_timer(np.zeros((1, 3, 256, 256), np.float32))
    cudart.calls.clear()
    assert timer() == 2.5  # the double's figure, not a measurement
    names = [name for name, _ in cudart.calls if name != "cudaSetDevice"]
    assert names[:7] == ["cudaEventCreate", "cudaEventCreate", "cudaEventRecord", "execute_async_v3",
                         "cudaEventRecord", "cudaEventSynchronize", "cudaEventElapsedTime"]
    assert names[7:] == ["cudaEventDestroy", "cudaEventDestroy"]  # dropped with time_on_stream's frame
    runtime.close()


def test_engines_with_other_than_float_or_half_io_are_refused(tmp_path, doubles):
    _, install = doubles
    install("INT8")
    with pytest.raises(EdgeIRError, match="expected FLOAT or HALF engine inputs and outputs, found input"):
        TensorRTRuntime(_engine(tmp_path), None, task="motion-deblur")


def test_missing_cuda_python_gpu_or_device_index(tmp_path, doubles, monkeypatch):
    cudart, install = doubles
    install()
    with pytest.raises(EdgeIRError, match="expected a GPU cuda:1, found 1 CUDA GPU\\(s\\): NVIDIA Orin"):
        TensorRTRuntime(_engine(tmp_path), None, device="cuda:1", task="motion-deblur")
    with pytest.raises(EdgeIRError, match="expected device cuda or cuda:N"):
        TensorRTRuntime(_engine(tmp_path), None, device="gpu", task="motion-deblur")
    cudart.gpus = ()
    with pytest.raises(EdgeIRError, match="expected a CUDA GPU to run the TensorRT engine s.engine, found none"):
        TensorRTRuntime(_engine(tmp_path), None, task="motion-deblur")
    monkeypatch.setattr(cuda, "installed", lambda: False)
    with pytest.raises(EdgeIRError) as caught:
        TensorRTRuntime(_engine(tmp_path), None, task="motion-deblur")
    assert str(caught.value) == ('running TensorRT engines needs cuda-python, which is not installed: '
                                 'pip install "edgeir[trt]"')


@pytest.mark.parametrize("tensorrt, cuda_python, gpus, expected", [
    (False, True, ["NVIDIA Orin"], "TensorRT (the tensorrt Python package) not found"),
    (False, True, [], "TensorRT (the tensorrt Python package) and a CUDA GPU not found"),
    (True, False, [], 'cuda-python (pip install "edgeir[trt]") not found'),
    (False, False, [], 'TensorRT (the tensorrt Python package) and cuda-python (pip install "edgeir[trt]") '
                       'not found'),
    (True, True, [], "a CUDA GPU not found"),
    (True, True, ["NVIDIA Orin"], None),
])
def test_why_unavailable_names_what_is_missing(monkeypatch, tensorrt, cuda_python, gpus, expected):
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args):
        if name == "tensorrt":
            return SimpleNamespace(name=name) if tensorrt else None
        return real_find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    monkeypatch.setattr(cuda, "installed", lambda: cuda_python)
    monkeypatch.setattr(cuda, "gpu_names", lambda: gpus)
    assert backend.why_unavailable() == expected


def test_asking_about_tensorrt_loads_neither_torch_nor_tensorrt():
    """In a fresh interpreter, as on a camera box: only cuda-python's bindings may load."""
    code = ("import sys; from edgeir.runtimes import why_unavailable; why_unavailable('tensorrt'); "
            "print(sorted(m for m in ('torch', 'tensorrt') if m in sys.modules))")
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True)
    assert done.stdout.strip() == "[]", done.stderr
