"""The gates every export passes before anything is written (``edgeir.gate.Gate``).

A target lists its gates as data on its row in ``edgeir.export.targets.TARGETS``: which
figure, its bound, what the figure compares against. The pipeline checks them in one place
after the target's own step, and records each with the value found, in one form, in the
manifest (``parity.gates``).
"""

from __future__ import annotations

import math
from typing import Any

from edgeir.errors import EdgeIRError
from edgeir.gate import Gate, figure_at

__all__ = ["Gate", "check_gates", "figure_at"]

FP32_MAX_ABS = 1e-3
"""An FP32 artifact computes what PyTorch computes, up to float reordering."""
TRACED_MAX_ABS = 1e-4
"""A TorchScript trace is the same module: tighter than a converted graph."""
FP16_MIN_PSNR = 40.0
"""FP16 weights and activations; the normalisations and the input residual stay FP32."""
BF16_MIN_PSNR = 35.0
"""An IR computed in the CPU's default precision, which is bf16 where the CPU has it."""
INT8_MIN_PSNR = 30.0
"""Catches a broken calibration, not a small loss: the bench reports the PSNR drop."""

INT8_HINT = "try --calib with your own frames, --calib-method or --keep-fp32"


def check_gates(gates: tuple[Gate, ...], figures: dict[str, Any], what: str) -> list[dict[str, Any]]:
    """Refuse an artifact that does not compute what PyTorch computes; else the gates as
    recorded: figure, bound, what it is compared with, the value found."""
    passed = []
    for gate in gates:
        value = figure_at(figures, gate.figure)
        if value is None and gate.optional:
            continue
        if value is None:
            raise RuntimeError(f"{what} did not measure {gate.figure}, which its gate needs")
        if not gate.passes(float(value)):
            raise EdgeIRError(
                f"parity check failed: expected {what} within {gate.describe()}, found {gate.found(value)}; "
                "nothing was written" + (f"; {gate.hint}" if gate.hint else "")
            )
        passed.append({"figure": gate.figure, "bound": gate.bound, "against": gate.against,
                       "found": value if not (isinstance(value, float) and math.isinf(value)) else "inf"})
    return passed
