"""What the benchmark ran on, for ``report.json``: figures mean little without it."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from edgeir.devices import cuda_gpus

LIBRARIES = ("edgeir", "torch", "numpy", "onnxruntime", "openvino", "nncf", "tensorrt",
             "coremltools", "nvidia-modelopt")


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(errors="replace").strip("\x00\n ") or None
    except OSError:
        return None


def jetson() -> dict[str, str] | None:
    """Model and L4T release on an NVIDIA Jetson (device tree and /etc/nv_tegra_release)."""
    model = _read("/proc/device-tree/model")
    release = _read("/etc/nv_tegra_release")
    if not release and not (model and "jetson" in model.lower()):
        return None
    return {"model": model or "unknown", "l4t": (release or "unknown").splitlines()[0]}


def describe() -> dict[str, Any]:
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "gpu": ", ".join(cuda_gpus()) or None,
        "jetson": jetson(),
        "os": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "python": platform.python_version(),
        "libraries": versions,
    }
