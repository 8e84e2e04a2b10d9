"""The one gate: a bound one figure must meet, as data.

Exports pass their gates before anything is written (``edgeir.export.gate``); ``edgeir
bench --max-psnr-drop/--min-psnr`` holds every measured target to the same kind of bound
(``edgeir.bench.gate``). Light on purpose: the device side (``edgeir bench --bundle``)
imports it without the export side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

AT_MOST_FIGURES = ("max_abs", "drop", "drop_db")
"""Figures where less is better (an error, a loss of dB); every other figure is a PSNR in
dB that must reach its bound."""


@dataclass(frozen=True)
class Gate:
    """A bound that one figure must meet: at most ``bound`` for an error or a drop, at
    least ``bound`` dB for a PSNR."""

    figure: str
    """Where the figure is: ``parity.max_abs``, ``details.cpu_check.psnr_estimate_db``, ``psnr_drop``."""
    bound: float
    against: str
    """What the figure compares with, for the record and the error."""
    optional: bool = False
    """The figure is measured only where its runtime is (Core ML predicts only on macOS)."""
    hint: str = ""

    @property
    def is_error(self) -> bool:
        return self.figure.endswith("max_abs")

    @property
    def at_most(self) -> bool:
        return self.figure.endswith(AT_MOST_FIGURES)

    def passes(self, value: float) -> bool:
        # Identical outputs have an infinite PSNR, which passes; NaN never does.
        return value <= self.bound if self.at_most else value >= self.bound

    def describe(self) -> str:
        if self.is_error:
            bound = f"max abs error {self.bound:g}"
        elif self.at_most:
            bound = f"a PSNR drop of at most {self.bound:g} dB"
        else:
            bound = f"{self.bound:g} dB PSNR"
        return f"{bound} of {self.against}"

    def found(self, value: float) -> str:
        return f"max abs error {value:.3g}" if self.is_error else f"{value} dB"


def figure_at(figures: dict[str, Any], path: str) -> Any:
    value: Any = figures
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value
