"""``edgeir bench --max-psnr-drop DB --min-psnr DB``: the bench as a CI guard.

Every measured target is held to the bounds with the one ``Gate``; the run exits 1 and
names the targets over them. The ``input`` row (the blurred frames) is not a target, and
skipped or failed targets are reported as such elsewhere, so neither is judged here.
"""

from __future__ import annotations

from collections.abc import Sequence

from edgeir.bench.measure import INPUT, TargetResult
from edgeir.errors import EdgeIRError
from edgeir.gate import Gate


def bench_gates(max_psnr_drop: float | None = None, min_psnr: float | None = None) -> tuple[Gate, ...]:
    gates = []
    if max_psnr_drop is not None:
        if not max_psnr_drop >= 0:
            raise EdgeIRError(f"expected --max-psnr-drop of 0 dB or more, found {max_psnr_drop}")
        gates.append(Gate("psnr_drop", max_psnr_drop, "torch FP32 on the evaluation frames"))
    if min_psnr is not None:
        gates.append(Gate("psnr", min_psnr, "the sharp frames"))
    return tuple(gates)


def over_budget(results: Sequence[TargetResult], gates: Sequence[Gate]) -> list[str]:
    """One line per measured target and bound it misses."""
    lines = []
    for result in results:
        if result.target == INPUT or not result.ok:
            continue
        for gate in gates:
            value = result.row().get(gate.figure)
            if value is None or not gate.passes(float(value)):
                found = "nothing measured" if value is None else gate.found(value)
                lines.append(f"{result.target}: expected {gate.describe()}, found {found}")
    return lines
