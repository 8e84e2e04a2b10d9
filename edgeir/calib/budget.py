"""The PSNR budget of INT8 exports (``--max-psnr-drop``), measured one way for every target.

The drop is the FP32 network's PSNR against the sharp held-out frames minus the INT8
network's: a loss of restoration quality, in the unit users judge a restorer by, on frames
that did not set the ranges. Whatever steers within it (NNCF's accuracy control for
OpenVINO, :mod:`edgeir.calib.steer` for the ONNX graphs) records it here, and the export
gate refuses an artifact over it, naming the best drop reached.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from edgeir.bench.metrics import mean_db, psnr_db
from edgeir.calib.sources import CalibrationSet
from edgeir.errors import EdgeIRError
from edgeir.gate import Gate

BUDGET_FIGURE = "details.psnr_drop_db"


def check_budget(budget: float | None) -> None:
    if budget is not None and not budget > 0:
        raise EdgeIRError(f"expected a positive --max-psnr-drop in dB, found {budget}")


def check_sharp(held_out: CalibrationSet) -> None:
    """A budget against the sharp frames needs them."""
    if held_out.targets is None:
        raise EdgeIRError(
            "expected calibration frames with sharp targets for --max-psnr-drop (synthetic, "
            f"gopro:DIR or pairs:BLUR_DIR,SHARP_DIR), found {held_out.source}, which has none"
        )


def sharp_psnr(run: Callable[[np.ndarray], np.ndarray], frames: CalibrationSet, batch: int) -> list[float]:
    """PSNR of each frame's restoration (clipped to the image range, as saved) against its
    sharp target."""
    assert frames.targets is not None
    scores = []
    for start, x in zip(range(0, len(frames), batch), frames.batches(batch, whole=True)):
        restored = np.clip(run(x), 0, 1)
        scores += [psnr_db(target, out) for target, out in zip(frames.targets[start:start + batch], restored)]
    return scores


def drop_record(reference: list[float], achieved: list[float], budget: float) -> dict[str, Any]:
    """The figures every budgeted manifest records: the drop, both PSNRs, the verdict."""
    reference_db, achieved_db = mean_db(reference), mean_db(achieved)
    drop = round(reference_db - achieved_db, 3)
    return {"max_psnr_drop_db": budget, "psnr_drop_db": drop, "psnr_fp32_vs_sharp_db": round(reference_db, 2),
            "psnr_int8_vs_sharp_db": round(achieved_db, 2), "within_budget": drop <= budget}


def budget_gate(budget: float, frames: int, hint: str) -> Gate:
    """The export gate of ``--max-psnr-drop``: the artifact is refused over it."""
    return Gate(BUDGET_FIGURE, budget, f"the FP32 network against the sharp frames ({frames} held out)", hint=hint)
