"""ExecuTorch backend: a ``.pte`` program through ExecuTorch's Python runtime (XNNPACK on
the CPU).

An app on a phone links ExecuTorch's C++ runtime and needs no Python; from Python,
ExecuTorch's runtime takes and returns torch tensors, so this backend, unlike the others
under ``edgeir.runtimes``, needs torch. It is how a ``.pte`` is checked and benchmarked on
a host.
"""

from __future__ import annotations

import threading
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from edgeir.errors import EdgeIRError
from edgeir.manifest import Manifest
from edgeir.quiet import executorch_import
from edgeir.runtimes.base import Runtime, RuntimeInfo, artifact_task, import_runtime, refused_input


class ExecuTorchRuntime(Runtime):
    def __init__(self, path: str | Path, manifest: Manifest | None, device: str | None = None,
                 task: str | None = None) -> None:
        if device not in (None, "cpu"):
            raise EdgeIRError(f"expected device cpu for an ExecuTorch program (XNNPACK), found {device!r}")
        with executorch_import():
            runtime = import_runtime("executorch.runtime", "running .pte programs", "executorch")
        self.torch = import_runtime("torch", "running .pte programs from Python", "executorch")
        self.path = Path(path)
        # The program reads from this buffer for as long as it runs: it is kept with it.
        self._buffer = self.path.read_bytes()
        try:
            self._program: Any = runtime.Runtime.get().load_program(self._buffer)
            self._method: Any = self._program.load_method("forward")
        except Exception as exc:  # ExecuTorch raises RuntimeError with its own error codes
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise EdgeIRError(f"expected an ExecuTorch program that this runtime can load at {path}: "
                              f"{first}") from None
        self._lock = threading.Lock()
        notes: list[str] = []
        task = artifact_task(manifest, task, path, notes)
        self.info = RuntimeInfo.of_artifact(
            "executorch", manifest, task, "CPU (XNNPACK delegate, portable kernels elsewhere)",
            [f"executorch {metadata.version('executorch')}"], notes)

    def _run(self, x: np.ndarray) -> np.ndarray:
        # One method object holds its own input and output buffers: calls take turns.
        with self._lock:
            try:
                out = self._method.execute([self.torch.from_numpy(np.ascontiguousarray(x))])[0]
            except Exception as exc:  # RuntimeError: method->execute() failed with error 0x..
                accepts = self.info.shapes.describe() if self.info.shapes else "the exported sizes"
                raise refused_input("executorch", self.path.name, x, accepts, exc) from None
            return out.numpy().copy()

    def _release(self) -> None:
        self._method = self._program = None
        self._buffer = b""
