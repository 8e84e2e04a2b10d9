"""Will a whole frame fit in memory? An estimate made before the work, so that a frame too
large for this machine fails in one line that suggests tiles, not in an allocation minutes
later (or in the kernel's OOM killer)."""

from __future__ import annotations

from pathlib import Path

from edgeir.errors import EdgeIRError
from edgeir.models.size import tile_hint

PEAK_BYTES_PER_PIXEL = 1600
"""What one more pixel of a whole frame adds to the peak memory of a CPU runtime: the
largest slope measured across torch, ONNX Runtime and OpenVINO by
``benchmarks/memory_per_pixel.py`` (docs/benchmarks.md, "Reliability"). ConvIR's variants
share their widths, so one figure serves S, B and L."""
HEADROOM = 0.9
"""Share of the available memory a frame may take: the rest is the runtime's and the OS's."""


def available_bytes() -> int | None:
    """Memory the kernel says can be allocated without swapping (Linux), or None where this
    cannot be read cheaply (the check is then skipped)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def estimate_bytes(batch: int, height: int, width: int) -> int:
    return int(batch * height * width * PEAK_BYTES_PER_PIXEL)


def check_fits(batch: int, height: int, width: int, device: str) -> None:
    """Raise when a batch of whole frames would need more than this machine has. Only for
    runtimes on the host's memory: a GPU's memory is the runtime's to report."""
    if "cpu" not in device.lower():
        return
    available = available_bytes()
    needed = estimate_bytes(batch, height, width)
    if available is not None and needed > HEADROOM * available:
        raise EdgeIRError(
            f"expected a frame that fits in memory in one piece, found {batch}x{height}x{width} needing "
            f"about {needed / 2**30:.1f} GiB (estimated) with {available / 2**30:.1f} GiB available: {tile_hint()}"
        )
