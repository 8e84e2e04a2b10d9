"""CUDA through cuda-python's runtime bindings, the one place edgeir reaches a GPU: TensorRT
needs only bare device bytes, a stream and timing events, so a Jetson camera pipeline runs
engines without torch. The bindings load on first use, in ``_cudart`` alone (tests swap a
double in there)."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgeir.errors import EdgeIRError

INSTALL = 'pip install "edgeir[trt]"'


def _cudart() -> Any:
    return importlib.import_module("cuda.bindings.runtime")  # cuda-python 12.6 or later


def _api() -> Any:
    try:
        return _cudart()
    except ImportError:
        raise EdgeIRError(f"CUDA buffers and streams need cuda-python (12.6 or later), which is not "
                          f"installed: {INSTALL}") from None


def installed() -> bool:
    """Whether cuda-python's runtime bindings are there, looked up without importing them."""
    try:
        return importlib.util.find_spec("cuda.bindings") is not None
    except ImportError:  # no ``cuda`` package at all
        return False


def call(name: str, *args: Any, api: Any = None) -> Any:
    """``cudart.<name>(*args)`` checked, since cuda-python returns (error, *values) instead of
    raising: the values (one bare, none as None), or a one-line EdgeIRError naming the call."""
    api = api if api is not None else _api()
    error, *values = getattr(api, name)(*args)
    if error != api.cudaError_t.cudaSuccess:
        text = bytes(api.cudaGetErrorString(error)[1]).decode(errors="replace")
        raise EdgeIRError(f"expected CUDA's {name} to succeed, found {getattr(error, 'name', error)}: "
                          + " ".join(text.split()))
    return None if not values else values[0] if len(values) == 1 else tuple(values)


@dataclass(frozen=True)
class Gpu:
    """A CUDA GPU as an engine depends on it: the name CUDA reports and its compute
    capability ("8.7"), the number TensorRT engines and Triton's ``cc_model_filenames`` go by."""

    name: str
    compute_capability: str


def gpus() -> list[Gpu]:
    """The CUDA GPUs, from ``cudaGetDeviceProperties`` (name, major, minor); empty, not an
    error, where cuda-python, a driver or a GPU is missing: the callers (machine description,
    engine builder, ``why_unavailable``) only ask."""
    try:
        api = _cudart()
    except ImportError:
        return []
    error, *count = api.cudaGetDeviceCount()
    if error != api.cudaError_t.cudaSuccess:  # cudaErrorNoDevice, cudaErrorInsufficientDriver, ...
        return []
    found = []
    for index in range(count[0]):
        props = call("cudaGetDeviceProperties", index, api=api)
        name = props.name.split(b"\0")[0].decode() if isinstance(props.name, bytes) else str(props.name)
        found.append(Gpu(name, f"{int(props.major)}.{int(props.minor)}"))
    return found


def gpu_names() -> list[str]:
    """Names of the CUDA GPUs (see ``gpus``)."""
    return [gpu.name for gpu in gpus()]


class _Owned:
    """A CUDA object freed by ``close()`` or, failing that, when collected (a timing loop
    makes two events per run); freed by the bindings that made it."""

    _create, _free = "", ""
    _raw: Any = None

    def __init__(self, *args: Any) -> None:
        self._api = _api()
        self._raw = call(self._create, *args, api=self._api)

    def close(self) -> None:
        raw, self._raw = self._raw, None
        if raw is not None:
            call(self._free, raw, api=self._api)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


class Stream(_Owned):
    """A stream of one's own: its copies, runs and events queue together; a sync waits for them alone."""

    _create, _free = "cudaStreamCreate", "cudaStreamDestroy"

    @property
    def handle(self) -> int:
        """The raw ``cudaStream_t``, as TensorRT's ``execute_async_v3`` takes it."""
        return int(self._raw)

    def synchronize(self) -> None:
        call("cudaStreamSynchronize", self._raw, api=self._api)


class DeviceBuffer(_Owned):
    """``nbytes`` of bare device memory: TensorRT binds addresses, not tensors. Copies are
    queued on a stream, so the host array must outlive the stream's next sync."""

    _create, _free = "cudaMalloc", "cudaFree"

    def __init__(self, nbytes: int) -> None:
        super().__init__(nbytes)
        self.nbytes = nbytes

    @property
    def ptr(self) -> int:
        return int(self._raw)

    def _copy(self, host: np.ndarray, stream: Stream, kind: str) -> None:
        if not host.flags.c_contiguous or host.nbytes > self.nbytes:
            raise EdgeIRError(f"expected a C-contiguous host array of at most {self.nbytes} bytes, found "
                              f"{host.nbytes} bytes (C-contiguous: {host.flags.c_contiguous})")
        ends = (self.ptr, host.ctypes.data) if kind == "HostToDevice" else (host.ctypes.data, self.ptr)
        call("cudaMemcpyAsync", *ends, host.nbytes, getattr(self._api.cudaMemcpyKind, "cudaMemcpy" + kind),
             stream.handle, api=self._api)

    def upload(self, host: np.ndarray, stream: Stream) -> None:
        self._copy(host, stream, "HostToDevice")

    def download(self, host: np.ndarray, stream: Stream) -> None:
        """Into ``host``'s own bytes (a writable array), the first ``host.nbytes`` of the buffer."""
        self._copy(host, stream, "DeviceToHost")


class Event(_Owned):
    """A CUDA timing event with ``torch.cuda.Event``'s small API, for ``time_on_stream``."""

    _create, _free = "cudaEventCreate", "cudaEventDestroy"  # default flags: timing enabled

    def record(self, stream: Stream) -> None:
        call("cudaEventRecord", self._raw, stream.handle, api=self._api)

    def synchronize(self) -> None:
        call("cudaEventSynchronize", self._raw, api=self._api)

    def elapsed_time(self, end: Event) -> float:
        return float(call("cudaEventElapsedTime", self._raw, end._raw, api=self._api))
