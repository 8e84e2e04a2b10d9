"""ONNX Runtime backend: any edgeir ONNX artifact, on the best provider present."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgeir.errors import EdgeIRError
from edgeir.manifest import Manifest
from edgeir.models.registry import TASKS
from edgeir.runtimes.base import Runtime, RuntimeInfo

PREFERRED_PROVIDERS = ("CUDAExecutionProvider", "CoreMLExecutionProvider", "CPUExecutionProvider")
DEVICE_PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}


class OnnxRuntime(Runtime):
    def __init__(self, path: str | Path, manifest: Manifest | None, device: str | None = None):
        try:
            import onnxruntime as ort
        except ImportError:
            raise EdgeIRError(
                'running .onnx models needs onnxruntime: pip install "edgeir[onnx]"'
            ) from None
        available = ort.get_available_providers()
        if device is None:
            providers = [p for p in PREFERRED_PROVIDERS if p in available]
        else:
            wanted = DEVICE_PROVIDERS.get(device.split(":")[0])
            if wanted is None or wanted not in available:
                raise EdgeIRError(
                    f"expected a device this onnxruntime can use ({', '.join(available)}), "
                    f"found {device!r}"
                )
            providers = [wanted]
        try:
            self.session = ort.InferenceSession(str(path), providers=providers)
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
            first = str(exc).strip().splitlines()[0]
            raise EdgeIRError(f"expected an ONNX model that onnxruntime can load at {path}: {first}") from None
        if manifest is None:
            manifest = Manifest.from_metadata(self.session.get_modelmeta().custom_metadata_map)
        self.input_name = self.session.get_inputs()[0].name
        providers_used = self.session.get_providers()
        task = manifest.task if manifest else "motion-deblur"
        notes = [] if manifest else [
            "no edgeir manifest or metadata: assuming the motion-deblur size rule"
        ]
        if manifest and manifest.precision == "fp16" and providers_used[0] == "CPUExecutionProvider":
            notes.append("ONNX Runtime's CPU kernels compute most FP16 ops in FP32 after casting")
        self.info = RuntimeInfo(
            backend="onnxruntime",
            precision=manifest.precision if manifest else "fp32",
            device=providers_used[0],
            dilations=TASKS[task].dilations,
            shapes=manifest.input_shapes if manifest else None,
            providers=providers_used,
            manifest=manifest,
            notes=notes,
        )

    def _run(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: x})[0]
