"""TensorRT backend: a serialized engine (TensorRT 10 or 11) on a CUDA GPU, without torch.

CUDA is reached through cuda-python (``edgeir.runtimes.cuda``): frames are copied from
numpy into device buffers that are kept while the frame size stays the same (a camera loop
calls once per frame), their addresses are bound with ``set_tensor_address``, and the
engine runs with ``execute_async_v3`` on the runtime's own stream. The input shape is set
when it changes, so one engine with a dynamic profile serves every frame size in it. An
engine only runs under the TensorRT version and on the GPU model that built it: the
manifest written with the engine says which, and a mismatch is refused with both named
before TensorRT fails obscurely.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edgeir.errors import EdgeIRError
from edgeir.manifest import Manifest
from edgeir.models.registry import OUTPUT_NAMES
from edgeir.runtimes import cuda
from edgeir.runtimes.base import Runtime, RuntimeInfo, artifact_task, import_runtime, time_on_stream

TENSORRT_INSTALL = ("it comes with JetPack on a Jetson; elsewhere pip install tensorrt (NVIDIA's "
                    "wheels, CUDA GPU needed)")


def why_unavailable() -> str | None:
    """None where engines can run here; else what is missing, in one phrase (cheap: TensorRT
    and cuda-python are looked up, not imported; only cuda-python's bindings load, to count
    GPUs)."""
    import importlib.util

    missing = []
    if importlib.util.find_spec("tensorrt") is None:
        missing.append("TensorRT (the tensorrt Python package)")
    if not cuda.installed():
        missing.append(f"cuda-python ({cuda.INSTALL})")
    elif not cuda.gpu_names():
        missing.append("a CUDA GPU")
    if not missing:
        return None
    return (", ".join(missing[:-1]) + " and " if len(missing) > 1 else "") + missing[-1] + " not found"


def check_engine_origin(built: dict[str, Any] | None, tensorrt_version: str, gpu: str) -> list[str]:
    """Raise when the engine was built by another TensorRT version or on another GPU
    model; returns notes on what could not be checked."""
    if not built:
        return ["no edgeir manifest with the engine: its TensorRT version and GPU are unchecked"]
    problems = []
    if built.get("tensorrt") and built["tensorrt"] != tensorrt_version:
        problems.append(f"TensorRT {built['tensorrt']} built it, this is TensorRT {tensorrt_version}")
    if built.get("gpu") and built["gpu"] != gpu:
        problems.append(f"it was built on a {built['gpu']}, this GPU is a {gpu}")
    if problems:
        raise EdgeIRError("expected an engine built here, found that " + " and ".join(problems)
                          + ": rebuild it on this device with edgeir build-engine")
    return []


class TensorRTRuntime(Runtime):
    def __init__(self, path: str | Path, manifest: Manifest | None, device: str | None = None,
                 task: str | None = None) -> None:
        trt = import_runtime("tensorrt", "running TensorRT engines", "tensorrt", TENSORRT_INSTALL)
        kind, _, index = (device or "cuda").partition(":")
        if kind != "cuda" or (index and not index.isdigit()):
            raise EdgeIRError(f"expected device cuda or cuda:N for a TensorRT engine, found {device!r}")
        if not cuda.installed():
            raise EdgeIRError(f"running TensorRT engines needs cuda-python, which is not installed: {cuda.INSTALL}")
        gpus = cuda.gpu_names()
        if not gpus:
            raise EdgeIRError(f"expected a CUDA GPU to run the TensorRT engine {Path(path).name}, found none")
        self._index = int(index or 0)
        if self._index >= len(gpus):
            raise EdgeIRError(f"expected a GPU cuda:{self._index}, found {len(gpus)} CUDA GPU(s): {', '.join(gpus)}")
        gpu = gpus[self._index]
        notes = check_engine_origin(manifest.details.get("engine") if manifest else None, trt.__version__, gpu)
        task = artifact_task(manifest, task, path, notes)
        cuda.call("cudaSetDevice", self._index)
        self._logger = trt.Logger(trt.Logger.WARNING)
        self.engine = trt.Runtime(self._logger).deserialize_cuda_engine(Path(path).read_bytes())
        if self.engine is None:
            raise EdgeIRError(f"expected a TensorRT engine that TensorRT {trt.__version__} can load at {path}, "
                              "found one it refused (its log above says why)")
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        inputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        outputs = [n for n in names if n not in inputs]
        if len(inputs) != 1 or not outputs:
            raise EdgeIRError(f"expected an engine with one image input, found inputs {inputs} and outputs {outputs}")
        self.input_name = inputs[0]
        self.output_name = OUTPUT_NAMES[-1] if OUTPUT_NAMES[-1] in outputs else outputs[0]
        dtypes = {trt.DataType.FLOAT: np.dtype(np.float32), trt.DataType.HALF: np.dtype(np.float16)}
        self._dtypes = {}
        for name in names:
            found = self.engine.get_tensor_dtype(name)
            if found not in dtypes:
                raise EdgeIRError(f"expected FLOAT or HALF engine inputs and outputs, found {name} of type {found}")
            self._dtypes[name] = dtypes[found]
        self._stream = cuda.Stream()
        self._buffers: dict[str, cuda.DeviceBuffer] = {}
        self._shapes: dict[str, tuple[int, ...]] = {}  # as bound; empty until the first call
        self._staged: np.ndarray | None = None
        self._lock = threading.Lock()  # one execution context: calls take turns
        self.info = RuntimeInfo.of_artifact("tensorrt", manifest, task, f"cuda:{self._index} ({gpu})",
                                            [f"TensorRT {trt.__version__}"], notes)

    def _bind(self, shape: tuple[int, ...]) -> None:
        """Set the input shape and every tensor's address, (re)allocating only buffers that
        have grown; nothing to do when the shape is the one already bound."""
        if self._shapes.get(self.input_name) == shape:
            return
        self._shapes = {}  # until every address is set again
        if not self.context.set_input_shape(self.input_name, shape):
            raise EdgeIRError(f"expected an input shape inside the engine's profile, found {shape}")
        shapes = {name: shape if name == self.input_name else tuple(self.context.get_tensor_shape(name))
                  for name in self._dtypes}
        for name, dims in shapes.items():  # every output needs an address, read or not
            nbytes = int(np.prod(dims)) * self._dtypes[name].itemsize
            if name not in self._buffers or self._buffers[name].nbytes < nbytes:
                if name in self._buffers:
                    self._buffers.pop(name).close()
                self._buffers[name] = cuda.DeviceBuffer(nbytes)
            self.context.set_tensor_address(name, self._buffers[name].ptr)
        self._shapes = shapes

    def _upload(self, x: np.ndarray) -> None:
        """Bind ``x``'s shape and queue its copy, from a host array kept until the next call
        (an asynchronous copy reads it after this returns)."""
        self._bind(tuple(x.shape))
        self._staged = np.ascontiguousarray(x, dtype=self._dtypes[self.input_name])
        self._buffers[self.input_name].upload(self._staged, self._stream)

    def _execute(self) -> None:
        if not self.context.execute_async_v3(self._stream.handle):
            raise EdgeIRError("expected TensorRT to run the engine, found execute_async_v3 failing")

    def _run(self, x: np.ndarray) -> np.ndarray:
        with self._lock:
            cuda.call("cudaSetDevice", self._index)  # CUDA's current device is per host thread
            self._upload(x)
            self._execute()
            result = np.empty(self._shapes[self.output_name], self._dtypes[self.output_name])
            self._buffers[self.output_name].download(result, self._stream)
            self._stream.synchronize()
            return result.astype(np.float32, copy=False)

    def device_timer(self, x: np.ndarray) -> Callable[[], float]:
        """CUDA events around ``execute_async_v3`` alone, the input uploaded once."""
        self.check_input(x)
        shape = tuple(x.shape)
        with self._lock:
            cuda.call("cudaSetDevice", self._index)
            self._upload(x)
            self._stream.synchronize()

        def run_once() -> float:
            with self._lock:
                cuda.call("cudaSetDevice", self._index)
                if self._shapes.get(self.input_name) != shape:  # another call bound another size since
                    self._upload(x)
                return time_on_stream(cuda.Event, self._stream, self._execute)

        return run_once

    def _release(self) -> None:
        with self._lock:
            for buffer in self._buffers.values():
                buffer.close()
            self._buffers.clear()
            self._shapes.clear()
            if self._stream is not None:
                self._stream.close()
                self._stream = None
            self.context = None
            self.engine = None
