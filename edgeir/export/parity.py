"""Numerical agreement between two outputs of the same network."""

from __future__ import annotations

import math

import numpy as np


def compare(reference: np.ndarray, candidate: np.ndarray) -> dict[str, float]:
    """Max abs error and PSNR (peak 1.0, the value range) of ``candidate``; PSNR is None
    when the two are identical."""
    diff = candidate.astype(np.float64) - reference.astype(np.float64)
    mse = float(np.mean(diff**2))
    return {
        "max_abs": float(np.max(np.abs(diff))),
        "psnr_db": None if mse == 0 else round(10 * math.log10(1.0 / mse), 2),
    }
