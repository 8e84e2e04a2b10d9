"""``--max-psnr-drop`` for the Q/DQ ONNX graphs (``onnx-int8``, ``trt-int8``): which
convolutions go back to floating point, found by measuring.

Sensitivity is measured by removing one convolution at a time from the fully quantized
graph (rather than quantizing one at a time into the FP32 graph): the cost is the same,
one graph and one forward pass per convolution, but removal measures what the search then
does, each layer's share of the error with all the others quantized, where error from
earlier layers is already in its input. Every variant is the one calibrated graph with Q/DQ
pairs bypassed (:mod:`edgeir.calib.qdq`), so nothing is calibrated twice. The ranking uses
a few calibration frames and the error against the FP32 graph's output (smooth, no ground
truth needed); the search then returns the top-ranked convolutions, bisecting on how many,
until the drop against the sharp held-out frames is within the budget.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgeir.calib.budget import drop_record, sharp_psnr
from edgeir.calib.qdq import quantized_convolutions, restore
from edgeir.calib.sources import CalibrationSet
from edgeir.progress import progress_bar

log = logging.getLogger("edgeir")

RANKING_FRAMES = 2
"""Calibration frames each variant is run on while ranking: the ranking needs an order,
not a figure, and it runs one graph per convolution."""
MAX_RESTORED_SHARE = 0.25
"""The most of the quantized convolutions a budget may return: past a quarter in higher
precision INT8 buys little, and a budget that needs more is better met by other frames
(--calib) or another target; the export says so instead."""
LISTED = 10
"""Most sensitive convolutions the manifest lists with their cost."""

Runner = Callable[[Any], Callable[[np.ndarray], np.ndarray]]
"""Makes a function running a graph on a batch (an ONNX Runtime session's run)."""


@dataclass
class Steered:
    graph: Any
    restored: list[str]
    record: dict[str, Any] = field(default_factory=dict)


def _mse(run: Callable[[np.ndarray], np.ndarray], inputs: list[np.ndarray], expected: list[np.ndarray]) -> float:
    return float(np.mean([np.mean((run(x).astype(np.float64) - e) ** 2) for x, e in zip(inputs, expected)]))


def _db(mse: float) -> float:
    return math.inf if mse == 0 else 10 * math.log10(1.0 / mse)


def rank(qdq: Any, fp32: Any, fit: CalibrationSet, batch: int, float_readers: bool,
         runner: Runner) -> list[tuple[str, float]]:
    """Every quantized convolution with what returning it alone gains, in dB of PSNR
    against the FP32 graph on the ranking frames, most sensitive first."""
    inputs = list(fit.batches(batch, whole=True))[: max(1, RANKING_FRAMES // batch)]
    reference = runner(fp32)
    expected = [reference(x).astype(np.float64) for x in inputs]
    names = quantized_convolutions(qdq)
    base = _db(_mse(runner(restore(qdq, fp32, [], float_readers)), inputs, expected))
    gains = []
    bar = progress_bar("convolutions")
    with bar:
        task = bar.add_task("ranking convolutions (one returned at a time)", total=len(names))
        for name in names:
            alone = _db(_mse(runner(restore(qdq, fp32, [name], float_readers)), inputs, expected))
            gains.append((name, round(alone - base, 4)))
            bar.advance(task)
    return sorted(gains, key=lambda item: -item[1])


def within_budget(qdq: Any, fp32: Any, fit: CalibrationSet, held_out: CalibrationSet, batch: int, budget: float,
                  float_readers: bool, rank_runner: Runner, check_runner: Runner, restored_to: str) -> Steered:
    """The graph with the fewest top-ranked convolutions in ``restored_to`` precision whose
    drop on ``held_out`` is within ``budget``, found by bisection (the drop falls roughly
    monotonically with the count); or, when even :data:`MAX_RESTORED_SHARE` of them does
    not meet it, the best graph tried, for the gate to refuse with its figure."""
    names = quantized_convolutions(qdq)
    reference = sharp_psnr(check_runner(fp32), held_out, batch)
    tried: dict[int, tuple[Any, dict[str, Any]]] = {}

    def attempt(count: int, ranked: list[str]) -> bool:
        graph = restore(qdq, fp32, ranked[:count], float_readers)
        record = drop_record(reference, sharp_psnr(check_runner(graph), held_out, batch), budget)
        tried[count] = graph, record
        log.info("%d convolution(s) in %s: PSNR drop %.3f dB (budget %.3g)", count, restored_to,
                 record["psnr_drop_db"], budget)
        return bool(record["within_budget"])

    ranking: list[tuple[str, float]] = []
    ranked: list[str] = []
    most = max(1, math.ceil(MAX_RESTORED_SHARE * len(names)))
    log.info("PSNR drop budget %.3g dB on %d held-out frames, %d quantized convolutions", budget,
             len(held_out), len(names))
    if attempt(0, ranked):
        chosen = 0
    else:
        ranking = rank(qdq, fp32, fit, batch, float_readers, rank_runner)
        ranked = [name for name, _ in ranking]
        if attempt(most, ranked):
            low, high = 0, most
            while high - low > 1:
                middle = (low + high) // 2
                low, high = (low, middle) if attempt(middle, ranked) else (middle, high)
            chosen = high
        else:
            chosen = min(tried, key=lambda count: tried[count][1]["psnr_drop_db"])
    graph, record = tried[chosen]
    record.update({
        "higher_precision_convolutions": ranked[:chosen],
        "restored_to": restored_to,
        "budget_search": {
            "sensitivity": "one convolution returned at a time from the fully quantized graph, PSNR gain "
                           f"against the FP32 graph on {min(len(fit), max(1, RANKING_FRAMES // batch) * batch)} "
                           "calibration frame(s)" if ranking else "not needed: the fully quantized graph is within",
            "most_sensitive": [{"convolution": name, "psnr_gain_db": gain} for name, gain in ranking[:LISTED]],
            "tried": [{"restored": count, "psnr_drop_db": tried[count][1]["psnr_drop_db"]} for count in sorted(tried)],
            "max_restored": most,
            "quantized_convolutions": len(names),
        },
    })
    return Steered(graph, ranked[:chosen], record)


def budget_hint(record: dict[str, Any]) -> str:
    """What the gate adds when the budget was not met: the best the search reached."""
    search = record["budget_search"]
    return (f"the best reached, with {len(record['higher_precision_convolutions'])} of "
            f"{search['quantized_convolutions']} convolutions in {record['restored_to']} (at most "
            f"{search['max_restored']} are returned); try a larger --max-psnr-drop or --calib with your own frames")
