"""``edgeir bench``: PSNR, PSNR drop, SSIM, latency and FPS for every target, in one run.

``bench(...)`` measures the torch FP32 reference first (every PSNR drop and fidelity figure
is against it), then each target, and writes the reports; ``harness`` exports and opens a
target, ``measure`` measures a ready runtime (the same code for the device bench of a
bundle, ``device``; ``pack`` makes the bundle), ``report`` writes what was measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgeir.bench.evalset import EvalSet
from edgeir.bench.harness import REFERENCE, BenchConfig, TargetResult, run_target
from edgeir.bench.measure import check_settings, finish, input_row
from edgeir.errors import EdgeIRError
from edgeir.progress import progress_bar

__all__ = ["BenchConfig", "BenchRun", "TargetResult", "bench"]


@dataclass
class BenchRun:
    results: list[TargetResult]
    reports: dict[str, Path]
    machine: dict[str, object]

    @property
    def failed(self) -> list[TargetResult]:
        return [r for r in self.results if r.status.startswith("failed")]


def bench(config: BenchConfig, targets: list[str], isolate: bool = True) -> BenchRun:
    """Measure ``targets`` (``torch`` is always measured first: it is the reference)."""
    from edgeir.bench.machine import describe
    from edgeir.bench.report import write_reports

    check_settings(config)
    evalset: EvalSet = config.evalset
    pairs = list(evalset)
    if not pairs:
        raise EdgeIRError(f"expected at least one evaluation pair, found none in {evalset.spec}")
    order = [REFERENCE, *(t for t in targets if t != REFERENCE)]
    results: list[TargetResult] = [input_row([(b, s) for _, b, s in pairs], config.y_channel)]
    reference = None
    with progress_bar("targets") as bar:
        task = bar.add_task("benchmarking", total=len(order))
        for target in order:
            bar.update(task, description=f"benchmarking {target}")
            result = run_target(config, target, reference, isolate)
            if target == REFERENCE:
                reference = result.extra.pop("outputs", None)
                if not result.ok:
                    raise EdgeIRError(f"expected the torch FP32 reference to run, found {result.status}")
            else:
                result.extra.pop("outputs", None)
            if target in targets:
                results.append(result)
            bar.console.print(f"{target}: {result.summary()}")
            bar.advance(task)
    base = next((r for r in results if r.target == REFERENCE and r.ok), None)
    finish(results, base.psnr if base is not None else None)
    machine = describe()
    _, blurred, sharp = pairs[0]
    evaluation = evalset.describe() + (", PSNR/SSIM on Y" if config.y_channel else ", PSNR/SSIM on RGB")
    reports = write_reports(config.out, machine, results, evaluation, (blurred, sharp))
    return BenchRun(results, reports, machine)
