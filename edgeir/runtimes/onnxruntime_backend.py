"""ONNX Runtime backend: any edgeir ONNX artifact, on CUDA when present, else the CPU."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgeir.errors import EdgeIRError
from edgeir.manifest import Manifest
from edgeir.runtimes.base import (
    Runtime,
    RuntimeInfo,
    artifact_task,
    check_sidecar_matches_embedded,
    import_runtime,
    refused_input,
)

PREFERRED_PROVIDERS = ("CUDAExecutionProvider", "CPUExecutionProvider")
"""CoreML's provider is left out on purpose: it may compute in FP16 whatever the graph
says, which would make the reported precision wrong."""
DEVICE_PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}


def _providers(device: str | None, available: list[str]) -> list:
    if device is None:
        return [p for p in PREFERRED_PROVIDERS if p in available]
    kind, _, index = device.partition(":")
    wanted = DEVICE_PROVIDERS.get(kind)
    if wanted is None or wanted not in available or (index and not index.isdigit()):
        raise EdgeIRError(
            f"expected a device this onnxruntime can use (cpu{', cuda[:N]' if 'CUDAExecutionProvider' in available else ''}), "
            f"found {device!r}"
        )
    return [(wanted, {"device_id": int(index)})] if index else [wanted]


def _check_graph_input(graph_input: object, path: Path) -> str:
    """The graph's input must be N x 3 x H x W (each a number or a name): a graph that takes
    anything else is not an image restorer edgeir can feed. Returns the dims as text."""
    dims = list(getattr(graph_input, "shape", []) or [])
    text = " x ".join(str(d) for d in dims) or "unknown"
    if len(dims) != 4 or (isinstance(dims[1], int) and dims[1] != 3):
        raise EdgeIRError(f"expected a model whose input is N x 3 x H x W, found {text} in {path.name}")
    return text


class OnnxRuntime(Runtime):
    def __init__(
        self, path: str | Path, manifest: Manifest | None, device: str | None = None,
        task: str | None = None, threads: int | None = None,
    ) -> None:
        ort = import_runtime("onnxruntime", "running .onnx models", "onnx")
        providers = _providers(device, ort.get_available_providers())
        session_options = ort.SessionOptions()
        if threads is not None:
            session_options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(path), session_options, providers=providers)
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
            first = str(exc).strip().splitlines()[0]
            raise EdgeIRError(f"expected an ONNX model that onnxruntime can load at {path}: {first}") from None
        self.path = Path(path)
        embedded = Manifest.from_metadata(self.session.get_modelmeta().custom_metadata_map)
        check_sidecar_matches_embedded(manifest, embedded, self.path.name)
        manifest = manifest or embedded
        notes: list[str] = []
        task = artifact_task(manifest, task, path, notes)
        graph_input = self.session.get_inputs()[0]
        self.input_name = graph_input.name
        self.graph_dims = _check_graph_input(graph_input, self.path)
        used = self.session.get_providers()
        precision = manifest.precision if manifest else "fp32"
        if precision == "fp16" and used[0] == "CPUExecutionProvider":
            notes.append("ONNX Runtime's CPU kernels compute most FP16 ops in FP32 after casting")
        settings = used + ([f"intra_op_num_threads={threads}"] if threads is not None else [])
        self.info = RuntimeInfo.of_artifact("onnxruntime", manifest, task, used[0], settings, notes, precision)

    def _run(self, x: np.ndarray) -> np.ndarray:
        try:
            return self.session.run(None, {self.input_name: x})[0]
        except Exception as exc:  # onnxruntime's InvalidArgument, Fail, RuntimeException
            accepts = self.info.shapes.describe() if self.info.shapes else f"input {self.graph_dims}"
            raise refused_input("onnxruntime", self.path.name, x, accepts, exc) from None

    def _release(self) -> None:
        self.session = None
