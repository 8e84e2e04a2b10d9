"""How one runtime is measured: quality on the evaluation frames, latency, FPS, memory.

Shared by the host benchmark (which exports each target first) and the device benchmark
(which opens the artifacts of a bundle): both hand a ready runtime and the frames here, so
a figure means the same on either side. Nothing here imports torch, an exporter or a
plotting library.
"""

from __future__ import annotations

import logging
import math
import resource
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from edgeir.bench.metrics import psnr, ssim
from edgeir.bench.steps import Steps
from edgeir.errors import EdgeIRError
from edgeir.runtimes.frames import centre_crop

FIELDS = ("target", "status", "precision", "size_mb", "psnr", "ssim", "psnr_drop", "psnr_vs_fp32",
          "latency_ms_p50", "latency_ms_p90", "latency_ms_p99", "device_ms_p50", "device_ms_p90",
          "device_ms_p99", "fps", "fps_batch", "peak_rss_mb", "export_s", "int8_mac_share")
"""``report.json`` / ``report.csv`` field names, in order: scripts rely on them (new fields
go at the end)."""
DEVICE_FIELDS = ("device_ms_p50", "device_ms_p90", "device_ms_p99")
"""Filled for runtimes on a GPU only; None where the network runs on the host."""
SAMPLE_CROP = 96
INT8_MAC_SHARE_MIN = 0.90
"""An INT8 target whose runtime ran less of its convolution MACs in INT8 kernels than this
says so in its status: its speed and quality are then partly those of floating point."""
OK = "ok"

log = logging.getLogger("edgeir")


class Settings(Protocol):
    """What a measurement is asked (``BenchConfig`` on the host, the bundle bench's own
    settings on the device)."""

    runs: int
    warmup: int
    batch: int
    tile: int | None
    y_channel: bool


def check_settings(settings: Settings) -> None:
    """The run counts both benchmarks take, checked before any work."""
    if settings.runs < 1 or settings.warmup < 0 or settings.batch < 1:
        raise EdgeIRError(f"expected --runs >= 1, --warmup >= 0 and --batch >= 1, found "
                          f"{settings.runs}, {settings.warmup} and {settings.batch}")


@dataclass
class TargetResult:
    target: str
    status: str = OK
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
    int8_mac_share: float | None = None
    """Share (0..1) of the convolution MACs that ran in INT8 kernels, as the runtime reports
    what it executed; None where it cannot say (TensorRT, Core ML, torch)."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Not in the fixed fields: artifact path, cached export, notes, the sample crop."""

    def row(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in FIELDS}

    @property
    def ok(self) -> bool:
        """Measured: ``ok``, or ``ok, NOTE`` (an INT8 target that ran too little in INT8)."""
        return self.status == OK or self.status.startswith(OK + ", ")

    def summary(self) -> str:
        """One line for the log as each target finishes (the table comes at the end)."""
        if not self.ok:
            return self.status
        if self.latency_ms_p50 is None:  # the input row: nothing ran
            return f"PSNR {self.psnr:.2f} dB, SSIM {self.ssim:.4f}"
        note = self.status.removeprefix(OK)
        return (f"ok, {self.precision}, PSNR {self.psnr:.2f} dB, {self.latency_ms_p50:.1f} ms p50, "
                f"{self.fps:g} FPS{note}")


class Skipped(Exception):
    """A runtime or device this machine lacks: the target is ``skipped``, not ``failed``."""


def peak_rss_mb() -> float:
    """This process's peak resident memory. On Linux from ``VmHWM``: ``ru_maxrss`` survives
    ``exec``, so a fresh worker started by a large process would report its parent's peak."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024 / 1e6  # kB (KiB) to MB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1e6 if sys.platform == "darwin" else peak * 1024 / 1e6  # bytes on macOS, KiB elsewhere


def _percentiles(times_ms: list[float]) -> tuple[float, float, float]:
    p50, p90, p99 = np.percentile(np.asarray(times_ms), [50, 90, 99])
    return round(float(p50), 2), round(float(p90), 2), round(float(p99), 2)


def _timed(call: Any, runs: int, warmup: int, steps: Steps | None = None, label: str = "timing") -> list[float]:
    steps = steps or Steps()
    for index in range(warmup):
        steps.step(f"{label}: warm-up", index, warmup)
        call()
    times = []
    for index in range(runs):
        steps.step(label, index, runs)
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1e3)
    steps.step(label, runs, runs)
    return times


def sample_crop(image: np.ndarray) -> np.ndarray:
    return centre_crop(image, (SAMPLE_CROP, SAMPLE_CROP))


def record_error(result: TargetResult, exc: Exception) -> None:
    """``skipped:`` for what this machine lacks, ``failed:`` for what broke."""
    if isinstance(exc, Skipped):
        result.status = f"skipped: {exc}"
        return
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    result.status = f"failed: {first_line}"
    if not isinstance(exc, EdgeIRError):
        result.extra["traceback"] = traceback.format_exc()


def _device_times(runtime: Any, restorer: Any, frame: np.ndarray, settings: Settings) -> list[float] | None:
    """Device-only milliseconds per frame (summed over its tiles or batches); None for
    runtimes that compute on the host."""
    timers = [runtime.device_timer(x) for x in restorer.network_inputs(frame)]
    if not timers or any(t is None for t in timers):
        return None
    for _ in range(settings.warmup):
        for timer in timers:
            timer()
    return [sum(timer() for timer in timers) for _ in range(settings.runs)]


def _fps_batch(runtime: Any, settings: Settings, frame: np.ndarray, fps: float, steps: Steps) -> float | None:
    """Frames per second when ``--batch`` frames run per call; the batch-1 figure for batch 1,
    None where the artifact takes one frame per call."""
    from edgeir.runtimes.restorer import Restorer

    if settings.batch == 1:
        return fps
    if runtime.max_batch is not None and runtime.max_batch != settings.batch:
        return None
    batched = Restorer(runtime, tile=settings.tile, batch=settings.batch)
    frames = [frame] * settings.batch
    times = _timed(lambda: batched.restore_batch(frames), max(3, settings.runs // 2), 1, steps,
                   f"timing batches of {settings.batch}")
    return round(settings.batch * 1e3 / float(np.median(times)), 2)


def measure_runtime(result: TargetResult, runtime: Any, pairs: Sequence[tuple[np.ndarray, np.ndarray]],
                    reference: Sequence[np.ndarray] | None, settings: Settings,
                    steps: Steps | None = None) -> list[np.ndarray]:
    """Fill ``result`` from ``runtime`` run through a ``Restorer`` on ``pairs`` (blurred,
    sharp: H x W x 3 uint8); ``reference`` holds the torch FP32 outputs (None while the
    reference itself is measured). Returns the restored frames."""
    from edgeir.runtimes.restorer import Restorer

    steps = steps or Steps()
    result.precision = runtime.info.precision
    result.extra["device"] = runtime.info.device
    restorer = Restorer(runtime, tile=settings.tile)
    scores, vs_fp32, outputs = [], [], []
    first = None
    for index, (blurred, sharp) in enumerate(pairs):
        steps.step("evaluating", index, len(pairs))
        frame = blurred.astype(np.float32) / 255.0
        restored = restorer.restore(frame)
        first = frame if first is None else first
        outputs.append(restored)
        scores.append((psnr(restored, sharp, settings.y_channel), ssim(restored, sharp, settings.y_channel)))
        if reference is not None:
            vs_fp32.append(psnr(restored, reference[index], settings.y_channel))
    result.psnr = round(float(np.mean([s[0] for s in scores])), 3)
    result.ssim = round(float(np.mean([s[1] for s in scores])), 4)
    if reference is None:
        result.psnr_vs_fp32 = math.inf  # the reference against itself
    else:
        finite = [v for v in vs_fp32 if math.isfinite(v)]
        result.psnr_vs_fp32 = round(float(np.mean(finite)), 2) if finite else math.inf
    times = _timed(lambda: restorer.restore(first), settings.runs, settings.warmup, steps)
    result.latency_ms_p50, result.latency_ms_p90, result.latency_ms_p99 = _percentiles(times)
    result.fps = round(1e3 / result.latency_ms_p50, 2)
    device_times = _device_times(runtime, restorer, first, settings)
    if device_times is not None:
        result.device_ms_p50, result.device_ms_p90, result.device_ms_p99 = _percentiles(device_times)
    result.fps_batch = _fps_batch(runtime, settings, first, result.fps, steps)
    result.extra["sample"] = sample_crop(outputs[0])
    return outputs


def int8_status(share: float) -> str:
    """The status of an INT8 target below ``INT8_MAC_SHARE_MIN``; the share is rounded down,
    so that 89.96% does not read as 90% < 90%."""
    shown = math.floor(share * 1000) / 10
    return f"{OK}, INT8 MACs {shown:g}% < {INT8_MAC_SHARE_MIN:.0%}"


def measure_int8_share(result: TargetResult, runtime: Any, frame: np.ndarray, settings: Settings) -> None:
    """Fill ``result.int8_mac_share`` from one profiled run of ``frame`` (H x W x 3 uint8), and
    for an INT8 artifact below ``INT8_MAC_SHARE_MIN`` say so in its status. Called after the
    timed runs and after the peak memory is read: the profiling runs in a session or request
    of its own, whose memory is not the target's. A runtime that cannot be profiled leaves
    the share None, with the reason in ``extra``; it does not fail the target."""
    from edgeir.runtimes.int8_share import conv_macs
    from edgeir.runtimes.restorer import Restorer

    x = Restorer(runtime, tile=settings.tile).network_inputs(frame.astype(np.float32) / 255.0)[0]
    try:
        macs = conv_macs(runtime, x)
    except Exception as exc:  # a profiler's failure leaves the figure out, not the target
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        result.extra["int8_mac_share_why"] = f"not measured: {first}"
        if not isinstance(exc, EdgeIRError):
            result.extra["int8_mac_share_traceback"] = traceback.format_exc()
        log.warning("%s: the INT8 share of the convolution MACs was not measured: %s", result.target, first)
        return
    if macs is None or macs.share is None:
        result.extra["int8_mac_share_why"] = (f"{runtime.info.backend} does not show its kernels here" if macs is None
                                              else "no convolution kernel in the runtime's profile")
        return
    result.int8_mac_share = round(macs.share, 4)
    result.extra["conv_macs"] = dict(macs.kernels)
    manifest = runtime.info.manifest
    if manifest is not None and manifest.precision == "int8" and macs.share < INT8_MAC_SHARE_MIN and result.ok:
        result.status = int8_status(macs.share)


INPUT = "input"
"""The row of the unrestored frames: what every restoration is measured from."""


def input_row(pairs: Sequence[tuple[np.ndarray, np.ndarray]], y_channel: bool) -> TargetResult:
    """PSNR and SSIM of the blurred frames themselves, so a report shows what restoring adds
    (its ``psnr_drop`` is the torch FP32 gain)."""
    scores = [(psnr(blurred, sharp, y_channel), ssim(blurred, sharp, y_channel)) for blurred, sharp in pairs]
    return TargetResult(INPUT, precision="none (the blurred frames)",
                        psnr=round(float(np.mean([s[0] for s in scores])), 3),
                        ssim=round(float(np.mean([s[1] for s in scores])), 4))


def finish(results: list[TargetResult], reference_psnr: float | None) -> None:
    """PSNR drop of every measured target against the torch FP32 PSNR on the same frames."""
    for result in results:
        if reference_psnr is not None and result.psnr is not None:
            result.psnr_drop = round(reference_psnr - result.psnr, 3)


def _child(channel: Any, function: Any, args: tuple[Any, ...]) -> None:
    from edgeir.bench.steps import PipeSteps

    try:
        result = function(*args, PipeSteps(channel))
        channel.send(("result", result))
    except BaseException as exc:  # noqa: BLE001 - whatever ends the child, the parent hears of it
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        channel.send(("error", first))


def in_fresh_process(target: str, doing: str, function: Any, *args: Any, steps: Any = None) -> Any:
    """``function(*args, steps)`` in a new process: a crash (or the OOM killer) in a runtime
    fails that target only, and the process's peak memory is that target's own. The child's
    steps reach ``steps`` here through a one-way pipe whose writing end only the child holds,
    so a child that dies, even halfway through a message, is an end of file here, never a
    wait. When the bench is stopped (Ctrl-C, SIGTERM) the child is stopped with it."""
    import multiprocessing

    steps = steps or Steps()
    context = multiprocessing.get_context("spawn")
    reader, writer = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(writer, function, args), daemon=True)
    child.start()
    writer.close()
    kind = ""
    try:
        while True:
            if not reader.poll(0.2):
                continue
            try:
                kind, payload = reader.recv()
            except (EOFError, OSError):
                return TargetResult(target, status=f"failed: the process {doing} it died (crash or out of memory)")
            if kind == "step":
                steps.step(*payload)
            elif kind == "say":
                steps.say(payload)
            elif kind == "result":
                return payload
            else:
                return TargetResult(target, status=f"failed: the process {doing} it ended with: {payload}")
    finally:
        child.join(timeout=0 if kind != "result" else 10)  # a child that answered ends by itself
        if child.is_alive():
            child.terminate()
        child.join(timeout=10)
        if child.is_alive():
            child.kill()
            child.join()
        reader.close()
