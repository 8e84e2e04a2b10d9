"""Core ML backend: an ``.mlpackage`` on macOS, through coremltools' ``MLModel.predict``.

Core ML is a macOS/iOS framework; coremltools can convert and inspect packages anywhere but
predict only on macOS, so elsewhere opening one is refused in one line before anything is
loaded. ``device`` chooses Core ML's compute units: None or ``all`` (Neural Engine, GPU and
CPU, Core ML's choice), ``cpu``, ``gpu`` (CPU and GPU) or ``ane`` (CPU and Neural Engine).
"""

from __future__ import annotations

import logging
import platform
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np

from edgeir.errors import EdgeIRError
from edgeir.manifest import Manifest
from edgeir.models.registry import INPUT_NAME, OUTPUT_NAMES
from edgeir.quiet import quietly
from edgeir.runtimes.base import Runtime, RuntimeInfo, artifact_task, import_runtime

COMPUTE_UNITS = {"all": "ALL", "cpu": "CPU_ONLY", "gpu": "CPU_AND_GPU", "ane": "CPU_AND_NE"}


def why_unavailable() -> str | None:
    """None where Core ML can predict here (macOS with coremltools); else why not."""
    import importlib.util

    if sys.platform != "darwin":
        return f"Core ML runs only on macOS (and iOS), found {platform.system()}"
    if importlib.util.find_spec("coremltools") is None:
        return 'coremltools is not installed: pip install "edgeir[coreml]"'
    return None


def require_macos(path: str | Path) -> None:
    if sys.platform != "darwin":
        raise EdgeIRError(f"expected macOS to run the Core ML model {Path(path).name}: {why_unavailable()}")


def _to_image(x: np.ndarray) -> Any:
    from PIL import Image

    pixels = np.clip(np.rint(x.transpose(1, 2, 0) * 255.0), 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


def _from_image(image: Any) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.float32).transpose(2, 0, 1) / 255.0


def predict_batch(model: Any, x: np.ndarray, image_input: bool) -> np.ndarray:
    """Run an N x 3 x H x W float32 batch; image models take one frame per call (their
    inputs are 8-bit RGB, so frames are rounded to 8 bits on the way in)."""
    output = OUTPUT_NAMES[-1]
    if not image_input:
        return np.asarray(model.predict({INPUT_NAME: x})[output], dtype=np.float32)
    return np.stack([_from_image(model.predict({INPUT_NAME: _to_image(frame)})[output]) for frame in x])


class CoreMLRuntime(Runtime):
    def __init__(self, path: str | Path, manifest: Manifest | None, device: str | None = None,
                 task: str | None = None) -> None:
        require_macos(path)
        units = COMPUTE_UNITS.get(device or "all")
        if units is None:
            raise EdgeIRError(f"expected device {', '.join(COMPUTE_UNITS)} for Core ML, found {device!r}")
        with quietly("coremltools", logging.ERROR):
            ct = import_runtime("coremltools", "running Core ML models", "coreml")
        notes: list[str] = []
        task = artifact_task(manifest, task, path, notes)
        try:
            self.model = ct.models.MLModel(str(path), compute_units=getattr(ct.ComputeUnit, units))
        except Exception as exc:  # coremltools raises plain Exceptions for unreadable packages
            raise EdgeIRError(f"expected a Core ML package that this macOS can load at {path}, "
                              f"found: {str(exc).splitlines()[0]}") from None
        self.image_input = bool(manifest and manifest.details.get("image_input"))
        self._lock = threading.Lock()
        notes.append("Core ML chooses among the allowed compute units per op; the precision is "
                     "the ML program's")
        self.info = RuntimeInfo.of_artifact(
            "coreml", manifest, task, f"Core ML compute units {units} (macOS {platform.mac_ver()[0]})",
            [f"coremltools {ct.__version__}"], notes)

    @property
    def max_batch(self) -> int | None:
        """Core ML packages declare one batch size in every shape mode."""
        shapes = self.info.shapes
        return shapes.max_batch if shapes is not None else None

    def _run(self, x: np.ndarray) -> np.ndarray:
        with self._lock:
            return predict_batch(self.model, x, self.image_input)
