"""A recording double of cuda-python's ``cuda.bindings.runtime`` module (``cudart``).

Every call returns a tuple whose first item is a ``cudaError_t``, as the real bindings
do, and is recorded in ``calls``. "Device memory" is host bytearrays keyed by fake
addresses, and ``cudaMemcpyAsync`` really moves the bytes (with ctypes, from and to the
host arrays' addresses), so a round trip can be checked. ``cudaGetDeviceProperties``
answers a GPU's name and compute capability (major, minor) from the double's own table,
not from a GPU. It runs nothing on a GPU, and no test treats its figures (event times) as
measurements.
"""

from __future__ import annotations

import ctypes
import enum
from types import SimpleNamespace


class cudaError_t(enum.IntEnum):  # cuda-python's names
    cudaSuccess = 0
    cudaErrorInvalidValue = 1
    cudaErrorMemoryAllocation = 2
    cudaErrorInsufficientDriver = 35
    cudaErrorNoDevice = 100


class cudaMemcpyKind(enum.IntEnum):
    cudaMemcpyHostToDevice = 1
    cudaMemcpyDeviceToHost = 2


OK = cudaError_t.cudaSuccess
ERROR_STRINGS = {
    cudaError_t.cudaErrorMemoryAllocation: b"out of memory\n(as the driver words it)",
    cudaError_t.cudaErrorNoDevice: b"no CUDA-capable device is detected",
    cudaError_t.cudaErrorInvalidValue: b"invalid argument",
}
CAPABILITIES = {
    # GPU name -> (major, minor), as cudaDeviceProp reports them; other names get (0, 0), a
    # zeroed cudaDeviceProp's
    "Orin (nvgpu)": (8, 7),
    "NVIDIA Orin (nvgpu)": (8, 7),
    "NVIDIA RTX A2000": (8, 6),
    "NVIDIA H100 80GB HBM3": (9, 0),
}


class RecordingCudart:
    cudaError_t = cudaError_t
    cudaMemcpyKind = cudaMemcpyKind

    def __init__(self, gpus: tuple[str, ...] = ("Orin (nvgpu)",), calls: list | None = None,
                 fail: dict[str, cudaError_t] | None = None,
                 capabilities: dict[str, tuple[int, int]] | None = None) -> None:
        self.gpus = gpus
        self.capabilities = {**CAPABILITIES, **(capabilities or {})}
        """GPU name -> (major, minor) that cudaGetDeviceProperties answers."""
        self.calls = [] if calls is None else calls
        self.fail = fail or {}
        """Call name -> the error that call returns instead of succeeding."""
        self.memory: dict[int, bytearray] = {}
        self.allocated: list[int] = []
        self.freed: list[int] = []
        self._next = 0x7F00_0000_0000

    def _handle(self) -> int:
        self._next += 0x1000
        return self._next

    def _record(self, name, *args):
        self.calls.append((name, args))
        return self.fail.get(name, OK)

    def cudaGetErrorString(self, error):
        return OK, ERROR_STRINGS.get(error, b"unknown error")

    def cudaGetDeviceCount(self):
        error = self._record("cudaGetDeviceCount")
        if not self.gpus and error == OK:
            error = cudaError_t.cudaErrorNoDevice
        return (error, 0) if error != OK else (OK, len(self.gpus))

    def cudaGetDeviceProperties(self, device):
        error = self._record("cudaGetDeviceProperties", device)
        if error == OK and device >= len(self.gpus):
            error = cudaError_t.cudaErrorInvalidValue
        if error != OK:
            return error, SimpleNamespace(name=b"", major=0, minor=0)
        major, minor = self.capabilities.get(self.gpus[device], (0, 0))
        return OK, SimpleNamespace(name=self.gpus[device].encode().ljust(256, b"\0"), major=major, minor=minor)

    def cudaSetDevice(self, device):
        return (self._record("cudaSetDevice", device),)

    def cudaMalloc(self, size):
        error = self._record("cudaMalloc", size)
        if error != OK:
            return error, 0
        ptr = self._handle()
        self.memory[ptr] = bytearray(size)
        self.allocated.append(ptr)
        return OK, ptr

    def cudaFree(self, ptr):
        error = self._record("cudaFree", ptr)
        if error == OK and self.memory.pop(ptr, None) is None:
            error = cudaError_t.cudaErrorInvalidValue  # never allocated, or freed twice
        if error == OK:
            self.freed.append(ptr)
        return (error,)

    def cudaMemcpyAsync(self, dst, src, count, kind, stream):
        error = self._record("cudaMemcpyAsync", dst, src, count, kind, stream)
        device = dst if kind == cudaMemcpyKind.cudaMemcpyHostToDevice else src
        if error != OK or device not in self.memory or count > len(self.memory[device]):
            return (error if error != OK else cudaError_t.cudaErrorInvalidValue,)
        if kind == cudaMemcpyKind.cudaMemcpyHostToDevice:
            self.memory[dst][:count] = ctypes.string_at(src, count)
        else:
            ctypes.memmove(dst, bytes(self.memory[src][:count]), count)
        return (OK,)

    def cudaStreamCreate(self):
        error = self._record("cudaStreamCreate")
        return error, self._handle() if error == OK else None

    def cudaStreamSynchronize(self, stream):
        return (self._record("cudaStreamSynchronize", stream),)

    def cudaStreamDestroy(self, stream):
        return (self._record("cudaStreamDestroy", stream),)

    def cudaEventCreate(self):
        error = self._record("cudaEventCreate")
        return error, self._handle() if error == OK else None

    def cudaEventRecord(self, event, stream):
        return (self._record("cudaEventRecord", event, stream),)

    def cudaEventSynchronize(self, event):
        return (self._record("cudaEventSynchronize", event),)

    def cudaEventElapsedTime(self, start, end):
        return self._record("cudaEventElapsedTime", start, end), 2.5

    def cudaEventDestroy(self, event):
        return (self._record("cudaEventDestroy", event),)
