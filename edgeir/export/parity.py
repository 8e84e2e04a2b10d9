"""Numerical agreement between two outputs of the same network."""

from __future__ import annotations

import math
from collections.abc import Callable
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


IDENTICAL_PSNR_DB = 100.0
"""Stands for the infinite PSNR of identical outputs where a number is needed (means)."""


def held_out_agreement(
    reference: Callable[[np.ndarray], np.ndarray], candidate: Callable[[np.ndarray], np.ndarray],
    held_out: CalibrationSet, batch: int,
) -> dict[str, object]:
    """PSNR of a reduced-precision artifact against its FP32 graph on the held-out
    calibration frames (never the frames that set its ranges): the figures every INT8
    manifest records."""
    scores = [compare(reference(b), candidate(b))["psnr_db"] or IDENTICAL_PSNR_DB
              for b in held_out.batches(batch, whole=True)]
    return {
        "psnr_vs_fp32_graph_db": round(float(np.mean(scores)), 2),
        "psnr_vs_fp32_graph_min_db": min(scores),
        "psnr_measured_on": f"{len(held_out)} held-out calibration frames",
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
