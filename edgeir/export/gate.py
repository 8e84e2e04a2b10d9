"""The one gate every export passes before anything is written.

A target lists its gates as data on its row in ``edgeir.export.targets.TARGETS``: which
figure, its bound, what the figure compares against. The pipeline checks them in one place
after the target's own step, and records each with the value found, in one form, in the
manifest (``parity.gates``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from edgeir.errors import EdgeIRError

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


@dataclass(frozen=True)
class Gate:
    """A bound that one figure of an export must meet: at most ``bound`` for a ``max_abs``
    figure, at least ``bound`` dB for a PSNR figure."""

    figure: str
    """Where the figure is: ``parity.max_abs``, ``details.cpu_check.psnr_estimate_db``."""
    bound: float
    against: str
    """What the figure compares the artifact with, for the record and the error."""
    optional: bool = False
    """The figure is measured only where its runtime is (Core ML predicts only on macOS)."""
    hint: str = ""

    @property
    def is_error(self) -> bool:
        return self.figure.endswith("max_abs")

    def passes(self, value: float) -> bool:
        # Identical outputs have an infinite PSNR, which passes; NaN never does.
        return value <= self.bound if self.is_error else value >= self.bound

    def describe(self) -> str:
        return (f"max abs error {self.bound:g}" if self.is_error else f"{self.bound:g} dB PSNR") + \
            f" of {self.against}"


def figure_at(figures: dict[str, Any], path: str) -> Any:
    value: Any = figures
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


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
            found = f"max abs error {value:.3g}" if gate.is_error else f"{value} dB"
            raise EdgeIRError(
                f"parity check failed: expected {what} within {gate.describe()}, found {found}; "
                "nothing was written" + (f"; {gate.hint}" if gate.hint else "")
            )
        passed.append({"figure": gate.figure, "bound": gate.bound, "against": gate.against,
                       "found": value if not (isinstance(value, float) and math.isinf(value)) else "inf"})
    return passed
