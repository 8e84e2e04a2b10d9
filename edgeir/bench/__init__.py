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

__all__ = ["BenchConfig", "BenchRun", "TargetResult", "bench"]


@dataclass
class BenchRun:
    results: list[TargetResult]
    reports: dict[str, Path]
    machine: dict[str, object]

    @property
    def failed(self) -> list[TargetResult]:
        return [r for r in self.results if r.status.startswith("failed")]


def run_settings(config: BenchConfig, weights: dict[str, object]) -> dict[str, object]:
    """What makes two runs' figures comparable: ``--resume`` reuses rows only where every
    one of these is the same."""
    from importlib import metadata

    return {"variant": config.variant, "task": config.task,
            "weights": weights.get("sha256") or weights.get("kind"),
            "evaluation": config.evalset.describe(), "runs": config.runs, "warmup": config.warmup,
            "batch": config.batch, "tile": config.tile, "device": config.device, "y_channel": config.y_channel,
            "edgeir": metadata.version("edgeir")}


def bench(config: BenchConfig, targets: list[str], isolate: bool = True, resume: bool = False) -> BenchRun:
    """Measure ``targets`` (``torch`` is always measured first: it is the reference); the
    reports are written after every target, and when the run is stopped. With ``resume``,
    targets measured by an earlier run into ``config.out`` with the same settings are kept."""
    from edgeir.bench.machine import describe
    from edgeir.bench.report import write_reports
    from edgeir.bench.resume import Saved, previous_run
    from edgeir.bench.session import print_plan, run_targets
    from edgeir.models.weights import choose_weights

    check_settings(config)
    evalset: EvalSet = config.evalset
    pairs = list(evalset)
    if not pairs:
        raise EdgeIRError(f"expected at least one evaluation pair, found none in {evalset.spec}")
    weights = choose_weights(config.variant, config.task, config.weights).record()
    settings = run_settings(config, weights)
    order = [REFERENCE, *(t for t in targets if t != REFERENCE)]
    saved = Saved(config.out, [sharp for _, _, sharp in pairs])  # what saved outputs are checked against
    kept = previous_run(config.out, settings, order, saved) if resume else {}
    reference = saved.reference() if REFERENCE in kept else None
    reference_row = kept.get(REFERENCE)
    to_measure = [t for t in order if t not in kept]
    print_plan(_plan(config, weights, order, kept, to_measure))

    machine = describe()
    _, blurred, sharp = pairs[0]
    evaluation = evalset.describe() + (", PSNR/SSIM on Y" if config.y_channel else ", PSNR/SSIM on RGB")
    results: list[TargetResult] = [input_row([(b, s) for _, b, s in pairs], config.y_channel)]
    results += [kept[t] for t in order if t in kept and t in targets]
    reports: dict[str, Path] = {}

    def write(complete: bool, plots: bool = True) -> None:
        # every drop is against torch FP32's PSNR, whether or not torch is a row of the report
        finish(results, reference_row.psnr if reference_row is not None else None)
        measured = {r.target for r in results}
        run = {"weights": weights, "settings": settings, "complete": complete,
               "not_measured": [t for t in order if t in targets and t not in measured]}
        reports.update(write_reports(config.out, machine, _ordered(results, order), evaluation, (blurred, sharp), run,
                                     plots))

    def measure_one(target: str, steps: object) -> TargetResult:
        nonlocal reference, reference_row
        result = run_target(config, target, reference, isolate, steps)
        if target == REFERENCE:
            outputs = result.extra.pop("outputs", None)
            if not result.ok:
                raise EdgeIRError(f"expected the torch FP32 reference to run, found {result.status}")
            reference, reference_row = outputs, result
            saved.keep_reference(outputs, result)
        else:
            result.extra.pop("outputs", None)
        return result

    def done(result: TargetResult) -> None:
        saved.keep_sample(result)
        if result.target in targets:
            results.append(result)
        write(complete=False, plots=False)

    def stopped() -> str:
        write(complete=False)
        return str(config.out)

    run_targets(to_measure, measure_one, done, stopped)
    write(complete=True)
    return BenchRun(_ordered(results, order), reports, machine)


def _ordered(results: list[TargetResult], order: list[str]) -> list[TargetResult]:
    """The input row, then the targets in the order asked (kept rows among measured ones)."""
    rank = {t: i for i, t in enumerate(order)}
    return sorted(results, key=lambda r: rank.get(r.target, -1))


def _plan(config: BenchConfig, weights: dict[str, object], order: list[str], kept: dict[str, TargetResult],
          to_measure: list[str]) -> list[tuple[str, str]]:
    from edgeir.bench.harness import why_skipped

    digest = f", sha256 {str(weights['sha256'])[:12]}" if weights.get("sha256") else ""
    lines = [("bench", f"ConvIR-{config.variant.upper()} {config.task}, {weights['description']}{digest}"),
             ("frames", config.evalset.describe()),
             ("timing", f"{config.runs} runs after {config.warmup} warm-up, batch {config.batch}"
                        + (f", tiles of {config.tile}" if config.tile else "")),
             ("targets", f"{len(order)}: {', '.join(order)}")]
    if kept:
        lines.append(("kept", f"{len(kept)} measured by the run in {config.out} (--resume): {', '.join(kept)}"))
    lines += [("skipped", f"{target}: {why}") for target in to_measure if (why := why_skipped(target)) is not None]
    lines.append(("reports", f"{config.out} (written after every target)"))
    return lines
