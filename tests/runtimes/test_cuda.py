"""``edgeir.runtimes.cuda``, the cuda-python wrapper, against a recording double of
cuda-python's ``cudart`` module (tests/runtimes/recording_cudart.py): checked calls,
GPU listing, device buffers, streams and timing events. The double moves bytes between
host arrays and its own bytearrays; nothing here ran on a GPU, and its event times are
its own, not measurements. One test asks the real cuda-python on this GPU-less machine."""

import importlib.util

import numpy as np
import pytest

from edgeir.errors import EdgeIRError
from edgeir.runtimes import cuda
from edgeir.runtimes.base import time_on_stream
from tests.runtimes.recording_cudart import RecordingCudart, cudaError_t, cudaMemcpyKind


@pytest.fixture
def cudart(monkeypatch):
    double = RecordingCudart(gpus=("NVIDIA Orin (nvgpu)", "NVIDIA RTX A2000"))
    monkeypatch.setattr(cuda, "_cudart", lambda: double)
    return double


def test_checked_calls_return_values_or_raise_one_line(cudart):
    assert cuda.call("cudaSetDevice", 1) is None
    assert cuda.call("cudaGetDeviceCount") == 2
    cudart.fail["cudaMalloc"] = cudaError_t.cudaErrorMemoryAllocation
    with pytest.raises(EdgeIRError) as caught:
        cuda.call("cudaMalloc", 1 << 40)
    message = str(caught.value)
    assert "\n" not in message
    assert message == ("expected CUDA's cudaMalloc to succeed, found cudaErrorMemoryAllocation: "
                       "out of memory (as the driver words it)")


def test_without_cuda_python_the_error_says_how_to_install(monkeypatch):
    def missing():
        raise ImportError("No module named 'cuda'")

    monkeypatch.setattr(cuda, "_cudart", missing)
    assert cuda.gpu_names() == []
    with pytest.raises(EdgeIRError, match='not installed: pip install "edgeir\\[trt\\]"'):
        cuda.Stream()


def test_gpu_names_from_the_double(cudart):
    assert cuda.gpu_names() == ["NVIDIA Orin (nvgpu)", "NVIDIA RTX A2000"]  # NUL padding stripped
    cudart.gpus = ()
    assert cuda.gpu_names() == []  # cudaErrorNoDevice
    cudart.gpus, cudart.fail["cudaGetDeviceCount"] = ("x",), cudaError_t.cudaErrorInsufficientDriver
    assert cuda.gpu_names() == []


def test_gpus_with_their_compute_capability(cudart):
    """What an engine manifest records about its GPU: the name and major.minor CUDA reports
    (here the double's table, not a GPU)."""
    assert cuda.gpus() == [cuda.Gpu("NVIDIA Orin (nvgpu)", "8.7"), cuda.Gpu("NVIDIA RTX A2000", "8.6")]
    assert [args for name, args in cudart.calls if name == "cudaGetDeviceProperties"] == [(0,), (1,)]
    cudart.capabilities["NVIDIA RTX A2000"] = (12, 1)  # two-digit majors are read as numbers
    assert cuda.gpus()[1].compute_capability == "12.1"
    cudart.gpus = ()
    assert cuda.gpus() == []


@pytest.mark.skipif(not cuda.installed(), reason="cuda-python is not installed")
def test_real_device_properties_carry_what_gpus_reads():
    """The double's cudaDeviceProp fields are the real bindings' names (read on a blank struct:
    no driver is needed)."""
    from cuda.bindings import runtime

    props = runtime.cudaDeviceProp()
    assert isinstance(props.name, bytes) and isinstance(props.major, int) and isinstance(props.minor, int)


@pytest.mark.skipif(not cuda.installed(), reason="cuda-python is not installed")
def test_real_cuda_python_without_a_driver_lists_no_gpu():
    from cuda.bindings import runtime

    error, *_ = runtime.cudaGetDeviceCount()
    if error == runtime.cudaError_t.cudaSuccess:
        pytest.skip("a CUDA driver and GPU are here")
    assert cuda.gpu_names() == []  # cudaErrorInsufficientDriver or cudaErrorNoDevice, not an exception


def test_installed_looks_up_without_importing():
    assert cuda.installed() == (importlib.util.find_spec("cuda") is not None
                                and importlib.util.find_spec("cuda.bindings") is not None)


def test_device_buffer_round_trip(cudart):
    stream = cuda.Stream()
    host = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    buffer = cuda.DeviceBuffer(host.nbytes)
    assert buffer.ptr in cudart.memory and buffer.nbytes == 96
    buffer.upload(host, stream)
    back = np.zeros_like(host)
    buffer.download(back, stream)
    stream.synchronize()
    np.testing.assert_array_equal(back, host)
    copies = [args for name, args in cudart.calls if name == "cudaMemcpyAsync"]
    assert copies == [(buffer.ptr, host.ctypes.data, 96, cudaMemcpyKind.cudaMemcpyHostToDevice, stream.handle),
                      (back.ctypes.data, buffer.ptr, 96, cudaMemcpyKind.cudaMemcpyDeviceToHost, stream.handle)]
    assert [name for name, _ in cudart.calls][-1] == "cudaStreamSynchronize"
    ptr, handle = buffer.ptr, stream.handle
    buffer.close()
    buffer.close()  # once only
    stream.close()
    assert cudart.freed == [ptr]
    assert cudart.calls[-1] == ("cudaStreamDestroy", (handle,))


def test_device_buffer_refuses_what_would_overrun_it(cudart):
    stream, buffer = cuda.Stream(), cuda.DeviceBuffer(16)
    with pytest.raises(EdgeIRError, match="at most 16 bytes, found 32 bytes"):
        buffer.upload(np.zeros(8, np.float32), stream)
    with pytest.raises(EdgeIRError, match="C-contiguous: False"):
        buffer.download(np.zeros((4, 4), np.float32)[:, :1], stream)
    buffer.close()
    stream.close()


def test_objects_are_freed_by_the_bindings_that_made_them(cudart, monkeypatch):
    buffer = cuda.DeviceBuffer(8)
    monkeypatch.setattr(cuda, "_cudart", lambda: RecordingCudart())
    buffer.close()
    assert cudart.freed == [cudart.allocated[0]]


def test_event_timing_calls_in_order(cudart):
    stream = cuda.Stream()
    cudart.calls.clear()
    elapsed = time_on_stream(cuda.Event, stream, lambda: cudart.calls.append(("work", ())))
    assert elapsed == 2.5 and isinstance(elapsed, float)  # the double's figure
    (start, h), (end, _) = [args for name, args in cudart.calls if name == "cudaEventRecord"]
    assert h == stream.handle and start != end
    assert cudart.calls[:7] == [
        ("cudaEventCreate", ()), ("cudaEventCreate", ()),
        ("cudaEventRecord", (start, h)), ("work", ()), ("cudaEventRecord", (end, h)),
        ("cudaEventSynchronize", (end,)), ("cudaEventElapsedTime", (start, end)),
    ]
    # the two events go when time_on_stream drops them
    assert sorted(a for n, a in cudart.calls[7:] if n == "cudaEventDestroy") == sorted([(start,), (end,)])
    stream.close()
