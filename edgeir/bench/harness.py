"""The benchmark: every target exported, loaded and run on one evaluation set, measured the
same way.

Each target goes through the library as a user would (``edgeir.export.export`` with the
manifest-keyed cache below, ``edgeir.runtimes.load``, ``Restorer``), so padding, tiling and
host/device copies are part of the latency; for runtimes on a GPU the same frame is also
timed on the device alone (CUDA events), so copies and overhead can be told apart. A target whose runtime or device is missing
is ``skipped: REASON``; one that breaks is ``failed: REASON``; the run goes on either way.
With ``isolate`` each target is exported in one fresh process and measured in another, so
its peak memory is its runtime's own and a crash in an exporter or a runtime cannot take the
report with it.
"""

from __future__ import annotations

import json
import math
import resource
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgeir.bench.evalset import EvalSet
from edgeir.bench.metrics import psnr, ssim
from edgeir.errors import EdgeIRError

REFERENCE = "torch"
"""The FP32 PyTorch run every PSNR drop is measured against."""
FIELDS = ("target", "status", "precision", "size_mb", "psnr", "ssim", "psnr_drop", "psnr_vs_fp32",
          "latency_ms_p50", "latency_ms_p90", "latency_ms_p99", "device_ms_p50", "device_ms_p90",
          "device_ms_p99", "fps", "fps_batch", "peak_rss_mb", "export_s")
"""``report.json`` / ``report.csv`` field names, in order: scripts rely on them."""
DEVICE_FIELDS = ("device_ms_p50", "device_ms_p90", "device_ms_p99")
"""Filled for runtimes on a GPU only; None where the network runs on the host."""
SAMPLE_CROP = 96


def all_targets() -> list[str]:
    """``torch`` then every export target, in the table's order: a target added to the
    table is benchmarked without any change here."""
    from edgeir.export.targets import TARGETS

    return [REFERENCE, *TARGETS]


def parse_targets(spec: str) -> list[str]:
    known = all_targets()
    if spec == "all":
        return known
    chosen = [t.strip() for t in spec.split(",") if t.strip()]
    unknown = [t for t in chosen if t not in known]
    if unknown or not chosen:
        raise EdgeIRError(f"expected --targets all or a comma list of {', '.join(known)}, found {spec!r}")
    return list(dict.fromkeys(chosen))


@dataclass
class BenchConfig:
    variant: str
    task: str
    weights: str | None
    evalset: EvalSet
    out: Path
    runs: int = 20
    warmup: int = 3
    batch: int = 1
    tile: int | None = None
    device: str | None = None
    y_channel: bool = False
    """Score PSNR and SSIM on BT.601 luma instead of RGB."""


@dataclass
class TargetResult:
    target: str
    status: str = "ok"
    precision: str | None = None
    size_mb: float | None = None
    psnr: float | None = None
    ssim: float | None = None
    psnr_drop: float | None = None
    psnr_vs_fp32: float | None = None
    latency_ms_p50: float | None = None
    latency_ms_p90: float | None = None
    latency_ms_p99: float | None = None
    device_ms_p50: float | None = None
    """GPU targets only: time on the device, without host/device copies (CUDA events)."""
    device_ms_p90: float | None = None
    device_ms_p99: float | None = None
    fps: float | None = None
    fps_batch: float | None = None
    peak_rss_mb: float | None = None
    export_s: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    """Not in the fixed fields: artifact path, cached export, notes, the sample crop."""

    def row(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in FIELDS}

    def summary(self) -> str:
        """One line for the log as each target finishes (the table comes at the end)."""
        if self.status != "ok":
            return self.status
        return (f"ok, {self.precision}, PSNR {self.psnr:.2f} dB, {self.latency_ms_p50:.1f} ms p50, "
                f"{self.fps:g} FPS")


class Skipped(Exception):
    """A runtime or device this machine lacks: the target is ``skipped``, not ``failed``."""


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1e6 if sys.platform == "darwin" else peak / 1e3  # bytes on macOS, KiB elsewhere


def _artifact_size_mb(path: Path) -> float:
    files = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
    if path.suffix == ".xml":
        files.append(path.with_suffix(".bin"))
    return round(sum(p.stat().st_size for p in files if p.exists()) / 1e6, 2)


# -- export, cached by what the manifest records --------------------------------------------

def _export_request(config: BenchConfig, target: str) -> dict[str, Any]:
    """What the export is asked: recorded with the artifact, compared on the next run. The
    shape is the legal size the evaluation frames are padded to (720x1280 runs at 736x1280)."""
    from edgeir.models.registry import get_task
    from edgeir.models.size import legal_size_for

    size = config.evalset.frame_size
    if size is not None:
        size = legal_size_for(size[0], size[1], get_task(config.task).dilations)
    request: dict[str, Any] = {"variant": config.variant, "task": config.task, "weights": config.weights,
                               "batch": config.batch}
    from edgeir.export.targets import get_target

    spec = get_target(target)
    if size is not None:
        text = f"{size[0]}x{size[1]}"
        if spec.default_shapes == "enumerated":
            request.update(shape=size, batch=1)  # Core ML: that size, one frame per call
        else:
            request["dynamic"] = f"{text}:{text}:{text}"  # any batch up to --batch at that size
    return request


def _cache_record(artifact: Path) -> Path:
    return artifact.with_name(artifact.name + ".bench.json")


def _cached(artifact: Path, request: dict[str, Any]) -> float | None:
    """The export time of an artifact made for this very request, or None."""
    from edgeir.manifest import Manifest, manifest_path

    record = _cache_record(artifact)
    if not (artifact.exists() and record.is_file() and manifest_path(artifact).is_file()):
        return None
    try:
        saved = json.loads(record.read_text())
        manifest = Manifest.read(manifest_path(artifact))
    except (EdgeIRError, json.JSONDecodeError):
        return None
    asked = json.loads(json.dumps(request))  # as the record holds it (tuples become lists)
    if saved.get("request") != asked or saved.get("sha256") != manifest.artifact.get("sha256"):
        return None
    return float(saved["export_s"])


def export_target(config: BenchConfig, target: str) -> tuple[Path, float, bool]:
    """(artifact, export seconds, whether it came from the cache)."""
    from edgeir.export import default_output, export
    from edgeir.export.targets import get_target

    spec = get_target(target)
    artifact = config.out / "models" / default_output(spec, config.variant, config.task)
    request = _export_request(config, target)
    seconds = _cached(artifact, request)
    if seconds is not None:
        return artifact, seconds, True
    start = time.perf_counter()
    result = export(target, output=artifact, **request)
    seconds = round(time.perf_counter() - start, 1)
    if result.artifact is None:
        raise Skipped(f"{result.extra.get('why', 'no artifact built here')}")
    _cache_record(artifact).write_text(json.dumps(
        {"request": request, "sha256": result.manifest.artifact.get("sha256"), "export_s": seconds}))
    return result.artifact, seconds, False


# -- one target -----------------------------------------------------------------------------

def _percentiles(times_ms: list[float]) -> tuple[float, float, float]:
    p50, p90, p99 = np.percentile(np.asarray(times_ms), [50, 90, 99])
    return round(float(p50), 2), round(float(p90), 2), round(float(p99), 2)


def _timed(call: Any, runs: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1e3)
    return times


def _centre_crop(image: np.ndarray, side: int = SAMPLE_CROP) -> np.ndarray:
    top, left = max(0, (image.shape[0] - side) // 2), max(0, (image.shape[1] - side) // 2)
    return image[top : top + side, left : left + side]


def export_artifact(config: BenchConfig, target: str) -> tuple[Path, dict[str, Any]]:
    """The target's artifact, exported unless cached, and facts about how it was made;
    raises ``Skipped`` where this machine lacks the exporter's packages or the runtime."""
    from edgeir.export.targets import check_available, get_target
    from edgeir.runtimes import why_unavailable

    spec = get_target(target)
    try:
        check_available(spec)
    except EdgeIRError as exc:
        raise Skipped(str(exc)) from None
    missing = why_unavailable(spec.runtime)
    if missing is not None:  # before the export, which may take minutes for nothing
        raise Skipped(f"{spec.runtime} cannot run here: {missing}")
    artifact, seconds, cached = export_target(config, target)
    return artifact, {"export_s": seconds, "cached_export": cached, "artifact": str(artifact),
                      "size_mb": _artifact_size_mb(Path(artifact))}


def open_runtime(config: BenchConfig, target: str) -> tuple[Any, dict[str, Any]]:
    """(runtime, facts about how it was made); raises ``Skipped`` where this machine lacks
    the runtime or device."""
    from edgeir.runtimes import load

    if target == REFERENCE:
        from edgeir.models.weights import choose_weights
        from edgeir.runtimes.torch_backend import TorchRuntime

        weights = choose_weights(config.variant, config.task, config.weights)
        return TorchRuntime(weights, config.device, task=config.task, variant=config.variant), {"export_s": 0.0}
    artifact, made = export_artifact(config, target)
    try:
        runtime = load(artifact, config.device)
    except EdgeIRError as exc:
        raise Skipped(str(exc)) from None
    return runtime, made


def _record_error(result: TargetResult, exc: Exception) -> None:
    """``skipped:`` for what this machine lacks, ``failed:`` for what broke."""
    if isinstance(exc, Skipped):
        result.status = f"skipped: {exc}"
        return
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    result.status = f"failed: {first_line}"
    if not isinstance(exc, EdgeIRError):
        result.extra["traceback"] = traceback.format_exc()


def prepare(config: BenchConfig, target: str) -> TargetResult | None:
    """Export ``target`` into the cache; the result only when that already ended it
    (skipped or failed). Run in a process of its own, so that the measuring process's
    peak memory is the runtime's, not the exporter's."""
    if target == REFERENCE:
        return None
    try:
        export_artifact(config, target)
    except Exception as exc:  # a broken target must not end the benchmark
        result = TargetResult(target)
        _record_error(result, exc)
        return result
    return None


def measure(config: BenchConfig, target: str, reference: list[np.ndarray] | None) -> TargetResult:
    """Everything for one target; ``reference`` holds the torch FP32 outputs (None while the
    reference itself is measured). Errors become the result's status."""
    from edgeir.runtimes.restorer import Restorer

    result = TargetResult(target)
    try:
        runtime, made = open_runtime(config, target)
        result.export_s, result.size_mb = made.get("export_s"), made.get("size_mb")
        result.extra.update({k: v for k, v in made.items() if k not in ("export_s", "size_mb")})
        result.precision = runtime.info.precision
        result.extra["device"] = runtime.info.device
        restorer = Restorer(runtime, tile=config.tile)
        scores, vs_fp32, outputs = [], [], []
        first = None
        for index, (_, blurred, sharp) in enumerate(config.evalset):
            frame = blurred.astype(np.float32) / 255.0
            restored = restorer.restore(frame)
            first = frame if first is None else first
            outputs.append(restored)
            scores.append((psnr(restored, sharp, config.y_channel), ssim(restored, sharp, config.y_channel)))
            if reference is not None:
                vs_fp32.append(psnr(restored, reference[index], config.y_channel))
        result.psnr = round(float(np.mean([s[0] for s in scores])), 3)
        result.ssim = round(float(np.mean([s[1] for s in scores])), 4)
        if reference is None:
            result.psnr_vs_fp32 = math.inf  # the reference against itself
        else:
            finite = [v for v in vs_fp32 if math.isfinite(v)]
            result.psnr_vs_fp32 = round(float(np.mean(finite)), 2) if finite else math.inf
        times = _timed(lambda: restorer.restore(first), config.runs, config.warmup)
        result.latency_ms_p50, result.latency_ms_p90, result.latency_ms_p99 = _percentiles(times)
        result.fps = round(1e3 / result.latency_ms_p50, 2)
        device_times = _device_times(runtime, restorer, first, config)
        if device_times is not None:
            result.device_ms_p50, result.device_ms_p90, result.device_ms_p99 = _percentiles(device_times)
        result.fps_batch = _fps_batch(runtime, config, first, result.fps)
        result.extra["sample"] = _centre_crop(outputs[0])
        result.extra["outputs"] = outputs if target == REFERENCE else None
    except Exception as exc:  # a broken target must not end the benchmark
        _record_error(result, exc)
    if not result.status.startswith("skipped"):  # a skipped target ran nothing worth a figure
        result.peak_rss_mb = round(_peak_rss_mb(), 1)
    return result


def _device_times(runtime: Any, restorer: Any, frame: np.ndarray, config: BenchConfig) -> list[float] | None:
    """Device-only milliseconds per frame (summed over its tiles or batches); None for
    runtimes that compute on the host."""
    timers = [runtime.device_timer(x) for x in restorer.network_inputs(frame)]
    if not timers or any(t is None for t in timers):
        return None
    for _ in range(config.warmup):
        for timer in timers:
            timer()
    return [sum(timer() for timer in timers) for _ in range(config.runs)]


def _fps_batch(runtime: Any, config: BenchConfig, frame: np.ndarray, fps: float) -> float | None:
    """Frames per second when ``--batch`` frames run per call; the batch-1 figure for batch 1,
    None where the artifact takes one frame per call."""
    from edgeir.runtimes.restorer import Restorer

    if config.batch == 1:
        return fps
    if runtime.max_batch is not None and runtime.max_batch != config.batch:
        return None
    batched = Restorer(runtime, tile=config.tile, batch=config.batch)
    frames = [frame] * config.batch
    times = _timed(lambda: batched.restore_batch(frames), max(3, config.runs // 2), 1)
    return round(config.batch * 1e3 / float(np.median(times)), 2)


def run_target(config: BenchConfig, target: str, reference: list[np.ndarray] | None,
               isolate: bool) -> TargetResult:
    """With ``isolate``, the export and the measurement each run in a fresh process."""
    if not isolate:
        return measure(config, target, reference)
    early = _in_fresh_process(target, "exporting", prepare, config, target)
    if early is not None:
        return early
    return _in_fresh_process(target, "running", measure, config, target, reference)


def _in_fresh_process(target: str, doing: str, function: Any, *args: Any) -> Any:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        try:
            return pool.submit(function, *args).result()
        except BrokenProcessPool:
            return TargetResult(target, status=f"failed: the process {doing} it died (crash or out of memory)")


def finish(results: list[TargetResult]) -> None:
    """PSNR drop against the torch FP32 run, once every target is measured."""
    base = next((r for r in results if r.target == REFERENCE and r.status == "ok"), None)
    for result in results:
        if base is not None and result.psnr is not None:
            result.psnr_drop = round(base.psnr - result.psnr, 3)
