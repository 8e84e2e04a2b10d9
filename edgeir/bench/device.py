"""``edgeir bench --bundle``: the benchmark on the device, from a bundle packed on the host.

Runs in an install of numpy and one runtime: nothing is exported here and torch is not
needed, because the bundle carries the artifacts, the frames, their ground truth and the
host's torch FP32 outputs. Each target is measured by the same code as on the host
(``measure.measure_runtime``), so the two reports compare field for field. TensorRT engines
are built here from the TRT-ready ONNX, once: they are cached in the bundle's ``engines/``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeir.bench.bundle import ENGINES, Bundle, BundleTarget, open_bundle
from edgeir.bench.measure import (
    Skipped,
    TargetResult,
    check_settings,
    finish,
    in_fresh_process,
    input_row,
    measure_int8_share,
    measure_runtime,
    peak_rss_mb,
    record_error,
)
from edgeir.bench.steps import Steps, logged_as_steps
from edgeir.errors import EdgeIRError

log = logging.getLogger("edgeir")


@dataclass
class DeviceSettings:
    runs: int = 20
    warmup: int = 3
    batch: int = 1
    tile: int | None = None
    y_channel: bool = False
    """Taken from the bundle: the host scored that way."""
    device: str | None = None


def _open_artifact(bundle: Bundle, entry: BundleTarget, device: str | None) -> tuple[Any, dict[str, Any]]:
    """(runtime, facts); raises ``Skipped`` where this device lacks the runtime."""
    from edgeir.runtimes import load, why_unavailable

    missing = why_unavailable(entry.runtime)
    if missing is not None:
        raise Skipped(f"{entry.runtime} cannot run here: {missing}")
    path = bundle.path(entry.artifact, f"the artifact of {entry.target}")
    facts: dict[str, Any] = {"artifact": str(path)}
    if entry.runtime == "tensorrt":
        from edgeir.runtimes.tensorrt_engine import cached_engine

        cache = bundle.path(ENGINES, "the engine cache")
        if cache.is_dir():  # a cache copied in with the bundle may hold symlinks (engines, timing caches)
            for cached in cache.iterdir():
                bundle.path(f"{ENGINES}/{cached.name}", "a file in the engine cache")
        path, built = cached_engine(path, cache)
        facts.update(artifact=str(path), engine_cached=not built)
    return load(path, device), facts


def measure_target(bundle_root: Path, target: str, settings: DeviceSettings, steps: Steps | None = None) -> TargetResult:
    """One target of the bundle, measured; errors become its status."""
    steps = steps or Steps()
    bundle = open_bundle(bundle_root, verify=False)  # the parent verified it
    entry = next(t for t in bundle.targets if t.target == target)
    result = TargetResult(target, size_mb=entry.size_mb, export_s=entry.export_s)
    try:
        with logged_as_steps(steps, "loading"):
            runtime, facts = _open_artifact(bundle, entry, settings.device)
        result.extra.update(facts)
        pairs = bundle.pairs()
        measure_runtime(result, runtime, pairs, bundle.reference(pairs), settings, steps)
        result.peak_rss_mb = round(peak_rss_mb(), 1)  # the runtime's own, before the profiled run
        steps.step("profiling the convolution kernels")
        measure_int8_share(result, runtime, pairs[0][0], settings)
    except Skipped as exc:
        record_error(result, exc)
        return result
    except Exception as exc:  # a broken target must not end the benchmark
        record_error(result, exc)
    if result.peak_rss_mb is None:
        result.peak_rss_mb = round(peak_rss_mb(), 1)
    return result


def bench_bundle(root: str | Path, out: Path, settings: DeviceSettings, targets: list[str] | None = None,
                 isolate: bool = True) -> Any:
    """Measure every target of the bundle (or ``targets`` of it) and write the reports."""
    from edgeir.bench import BenchRun
    from edgeir.bench.machine import describe
    from edgeir.bench.report import write_reports
    from edgeir.bench.session import print_plan, run_targets

    bundle = open_bundle(root)
    settings.y_channel = bool(bundle.evaluation.get("y_channel"))
    if settings.tile is None:
        settings.tile = bundle.evaluation.get("tile")
    packed = [t.target for t in bundle.targets]
    chosen = packed if targets is None else targets
    unknown = [t for t in chosen if t not in packed]
    if unknown:
        raise EdgeIRError(f"expected targets of the bundle ({', '.join(packed)}), found {', '.join(unknown)}")
    check_settings(settings)
    pairs = bundle.pairs()
    bundle.reference(pairs)  # checked once here: a damaged reference is the bundle's error, not each target's
    results = [input_row(pairs, settings.y_channel)]
    machine = describe()
    evaluation = (f"{bundle.evaluation['description']} from the bundle {bundle.root.name} (packed "
                  f"{bundle.index['created']}), PSNR drop against the host's torch FP32 "
                  f"({bundle.reference_psnr:.3f} dB), PSNR/SSIM on {'Y' if settings.y_channel else 'RGB'}")
    reports: dict[str, Path] = {}

    def write(complete: bool, plots: bool = True) -> str:
        finish(results, bundle.reference_psnr)
        measured = {r.target for r in results}
        run = {"weights": bundle.index.get("weights"), "complete": complete,
               "not_measured": [t for t in chosen if t not in measured]}
        reports.update(write_reports(out, machine, results, evaluation, pairs[0], run, plots))
        return str(out)

    def measure_one(target: str, steps: Steps) -> TargetResult:
        if isolate:
            return in_fresh_process(target, "running", measure_target, bundle.root, target, settings, steps=steps)
        return measure_target(bundle.root, target, settings, steps)

    def done(result: TargetResult) -> None:
        results.append(result)
        write(complete=False, plots=False)

    print_plan([("bundle", f"{bundle.root} (packed {bundle.index['created']})"),
                ("frames", bundle.evaluation["description"]),
                ("timing", f"{settings.runs} runs after {settings.warmup} warm-up, batch {settings.batch}"),
                ("targets", f"{len(chosen)}: {', '.join(chosen)}"),
                ("reports", f"{out} (written after every target)")])
    run_targets(chosen, measure_one, done, lambda: write(complete=False))
    write(complete=True)
    return BenchRun(results, reports, machine)
