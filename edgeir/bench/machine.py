"""What the benchmark ran on, for ``report.json``: figures mean little without it."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from edgeir.runtimes.cuda import gpu_names

LIBRARIES = ("edgeir", "torch", "numpy", "onnxruntime", "openvino", "nncf", "tensorrt",
             "coremltools", "nvidia-modelopt", "executorch", "ncnn", "pnnx")


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


CPU_FEATURES = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16", "avx_vnni",
                "amx_tile", "amx_int8", "amx_bf16", "asimd", "asimdhp")
"""Instruction sets that decide how fast FP16, BF16 and INT8 run on a CPU (x86 and Arm)."""


def cpu_features() -> list[str] | None:
    """Which of ``CPU_FEATURES`` the CPU has (Linux); None where /proc/cpuinfo is missing.
    The same CPU model name can come with or without AVX-512 on a VM, so the name alone
    does not explain an INT8 or BF16 figure."""
    text = _read("/proc/cpuinfo")
    if text is None:
        return None
    flags: set[str] = set()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            flags.update(line.split(":", 1)[1].split())
    return [name for name in CPU_FEATURES if name in flags]


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(errors="replace").strip("\x00\n ") or None
    except OSError:
        return None


def jetson() -> dict[str, str] | None:
    """Model, L4T release and JetPack version on an NVIDIA Jetson (device tree,
    /etc/nv_tegra_release, the nvidia-jetpack package)."""
    model = _read("/proc/device-tree/model")
    release = _read("/etc/nv_tegra_release")
    if not release and not (model and "jetson" in model.lower()):
        return None
    return {"model": model or "unknown", "l4t": (release or "unknown").splitlines()[0],
            "jetpack": jetpack_version() or "unknown (nvidia-jetpack package not installed)"}


def jetpack_version() -> str | None:
    """JetPack's version as its Debian meta-package records it (absent on minimal images)."""
    return (_command("dpkg-query", "-W", "-f=${Version}", "nvidia-jetpack") or "").strip() or None


def _command(*argv: str) -> str | None:
    import subprocess

    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def power_mode() -> str:
    """The Jetson power mode (``nvpmodel -q``: MAXN, 15W, ...): Jetson figures depend on it."""
    for line in (_command("nvpmodel", "-q") or "").splitlines():
        if line.startswith("NV Power Mode:"):
            return line.split(":", 1)[1].strip() or "unknown"
    return "unknown"


def jetson_clocks() -> str:
    """``on`` where every CPU's minimum frequency is pinned to its maximum (what jetson_clocks
    does), ``off`` where not; ``unknown`` where cpufreq cannot be read."""
    pinned = []
    for cpu in sorted(Path("/sys/devices/system/cpu").glob("cpu[0-9]*")):
        low, high = _read(f"{cpu}/cpufreq/scaling_min_freq"), _read(f"{cpu}/cpufreq/cpuinfo_max_freq")
        if low is None or high is None:
            return "unknown"
        pinned.append(low == high)
    return ("on" if all(pinned) else "off") if pinned else "unknown"


def describe() -> dict[str, Any]:
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {
        "cpu": cpu_name(),
        "cpu_features": cpu_features(),
        "cores": os.cpu_count(),
        "gpu": ", ".join(gpu_names()) or None,
        "jetson": (board := jetson()),
        "power_mode": power_mode() if board else "unknown",
        "jetson_clocks": jetson_clocks() if board else "unknown",
        "os": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "python": platform.python_version(),
        "libraries": versions,
    }
