"""TensorRT backend: a serialized engine (TensorRT 10 or 11) on a CUDA GPU.

Buffers are torch CUDA tensors (torch is how edgeir reaches CUDA; no pycuda), addresses
are bound per call with ``set_tensor_address`` and run with ``execute_async_v3`` on
torch's current stream, and the input shape is set per call, so one engine with a
dynamic profile serves every frame size in it. An engine only runs under the TensorRT
version and on the GPU model that built it: the manifest written with the engine says
which, and a mismatch is refused with both named before TensorRT fails obscurely.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edgeir.errors import EdgeIRError
from edgeir.manifest import Manifest
from edgeir.models.registry import OUTPUT_NAMES
from edgeir.runtimes.base import Runtime, RuntimeInfo, artifact_task, import_runtime, time_on_stream

TENSORRT_INSTALL = ("it comes with JetPack on a Jetson; elsewhere pip install tensorrt (NVIDIA's "
                    "wheels, CUDA GPU needed)")


def why_unavailable() -> str | None:
    """None where engines can run here; else what is missing, in one phrase (cheap: TensorRT
    is looked up, not imported)."""
    import importlib.util

    from edgeir.devices import cuda_gpus

    missing = []
    if importlib.util.find_spec("tensorrt") is None:
        missing.append("TensorRT (the tensorrt Python package)")
    if not cuda_gpus():
        missing.append("a CUDA GPU")
    return " and ".join(missing) + " not found" if missing else None


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
        torch = import_runtime("torch", "running TensorRT engines (CUDA buffers)", "tensorrt")
        if not torch.cuda.is_available():
            raise EdgeIRError(f"expected a CUDA GPU to run the TensorRT engine {Path(path).name}, found none")
        kind, _, index = (device or "cuda").partition(":")
        if kind != "cuda" or (index and not index.isdigit()):
            raise EdgeIRError(f"expected device cuda or cuda:N for a TensorRT engine, found {device!r}")
        self._torch = torch
        self.device = torch.device("cuda", int(index or 0))
        gpu = torch.cuda.get_device_name(self.device)
        notes = check_engine_origin(manifest.details.get("engine") if manifest else None, trt.__version__, gpu)
        task = artifact_task(manifest, task, path, notes)
        self._logger = trt.Logger(trt.Logger.WARNING)
        with torch.cuda.device(self.device):
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
        dtypes = {trt.DataType.FLOAT: torch.float32, trt.DataType.HALF: torch.float16}
        self._input_dtype = dtypes.get(self.engine.get_tensor_dtype(self.input_name), torch.float32)
        self._output_dtype = dtypes.get(self.engine.get_tensor_dtype(self.output_name), torch.float32)
        self._lock = threading.Lock()  # one execution context: calls take turns
        self.info = RuntimeInfo.of_artifact("tensorrt", manifest, task, f"{self.device} ({gpu})",
                                            [f"TensorRT {trt.__version__}"], notes)

    def _bind(self, source: Any) -> Any:
        """Set the input shape and both tensor addresses; returns the output buffer."""
        if not self.context.set_input_shape(self.input_name, tuple(source.shape)):
            raise EdgeIRError(f"expected an input shape inside the engine's profile, found {tuple(source.shape)}")
        result = self._torch.empty(tuple(self.context.get_tensor_shape(self.output_name)),
                                   dtype=self._output_dtype, device=self.device)
        self.context.set_tensor_address(self.input_name, source.data_ptr())
        self.context.set_tensor_address(self.output_name, result.data_ptr())
        return result

    def _execute(self, stream: Any) -> None:
        if not self.context.execute_async_v3(stream.cuda_stream):
            raise EdgeIRError("expected TensorRT to run the engine, found execute_async_v3 failing")

    def _upload(self, x: np.ndarray) -> Any:
        return self._torch.from_numpy(np.ascontiguousarray(x)).to(self.device, self._input_dtype)

    def _run(self, x: np.ndarray) -> np.ndarray:
        torch = self._torch
        with self._lock, torch.cuda.device(self.device):
            result = self._bind(self._upload(x))
            stream = torch.cuda.current_stream(self.device)
            self._execute(stream)
            stream.synchronize()
            return result.float().cpu().numpy()

    def device_timer(self, x: np.ndarray) -> Callable[[], float]:
        """CUDA events around ``execute_async_v3`` alone, the input already on the GPU."""
        self.check_input(x)
        torch = self._torch
        with torch.cuda.device(self.device):
            source = self._upload(x)

        def run_once() -> float:
            with self._lock, torch.cuda.device(self.device):
                self._bind(source)  # another call may have bound its own buffers since
                stream = torch.cuda.current_stream(self.device)
                return time_on_stream(torch, stream, lambda: self._execute(stream))

        return run_once

    def close(self) -> None:
        self.context = None
        self.engine = None
