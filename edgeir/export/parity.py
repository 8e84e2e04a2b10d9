"""Numerical agreement between two outputs of the same network."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from edgeir.calib.sources import CalibrationSet


def compare(reference: np.ndarray, candidate: np.ndarray) -> dict[str, float]:
    """Max abs error and PSNR (peak 1.0, the value range) of ``candidate``; PSNR is None
    when the two are identical."""
    diff = candidate.astype(np.float64) - reference.astype(np.float64)
    mse = float(np.mean(diff**2))
    return {
        "max_abs": float(np.max(np.abs(diff))),
        "psnr_db": None if mse == 0 else round(10 * math.log10(1.0 / mse), 2),
    }


def parity_input(
    batch: int, size: tuple[int, int], held_out: CalibrationSet | None = None
) -> tuple[np.ndarray, str]:
    """(input, its description) for the parity check: held-out calibration frames for INT8
    artifacts, whose ranges fit real frames and not noise; seeded uniform noise otherwise."""
    if held_out is not None:
        x = next(held_out.batches(batch, whole=True))
        return x, f"{batch} held-out calibration frame(s) of {size[0]}x{size[1]} ({held_out.source})"
    x = np.random.default_rng(0).random((batch, 3, *size), dtype=np.float32)
    return x, f"{batch}x3x{size[0]}x{size[1]} uniform [0,1), seed 0"
