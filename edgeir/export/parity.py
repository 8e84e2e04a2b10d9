"""Numerical agreement between two outputs of the same network."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from edgeir.bench.metrics import mean_db, psnr_db

if TYPE_CHECKING:
    from edgeir.calib.sources import CalibrationSet


def compare(reference: np.ndarray, candidate: np.ndarray) -> dict[str, float]:
    """Max abs error and PSNR (peak 1.0, the value range; infinite when identical) of
    ``candidate``."""
    diff = candidate.astype(np.float64) - reference.astype(np.float64)
    return {"max_abs": float(np.max(np.abs(diff))), "psnr_db": round(psnr_db(reference, candidate), 2)}


def held_out_agreement(
    reference: Callable[[np.ndarray], np.ndarray], candidate: Callable[[np.ndarray], np.ndarray],
    held_out: CalibrationSet, batch: int,
) -> dict[str, object]:
    """PSNR of a reduced-precision artifact against its FP32 graph on the held-out
    calibration frames (never the frames that set its ranges): the figures every INT8
    manifest records."""
    scores = [compare(reference(b), candidate(b))["psnr_db"] for b in held_out.batches(batch, whole=True)]
    return {
        "psnr_vs_fp32_graph_db": round(mean_db(scores), 2),
        "psnr_vs_fp32_graph_min_db": min(scores),
        "psnr_measured_on": f"{len(held_out)} held-out calibration frames",
    }
