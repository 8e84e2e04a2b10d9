"""The calibration frames of an INT8 export: ``--calib``, ``--calib-frames``, held out."""

from __future__ import annotations

from edgeir.calib.sources import DEFAULT_COUNT, CalibrationSet, open_calibration
from edgeir.errors import EdgeIRError
from edgeir.export.request import ExportRequest

DEFAULT_SOURCE = "synthetic"


def check_calibration_options(options: dict[str, object]) -> None:
    """The ``--calib`` / ``--calib-frames`` rules that need no frames and no graph, checked
    before the trace so that a wrong option costs seconds, not an export."""
    spec = str(options.get("calib") or DEFAULT_SOURCE)
    count = options.get("calib_frames")
    if count is not None and spec.endswith(".npz"):
        raise EdgeIRError(
            f"expected --calib-frames only with a source to take frames from, found it with {spec}, "
            "which holds a fixed set: choose the count in edgeir calib -n"
        )
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 2):
        raise EdgeIRError(f"expected --calib-frames of at least 2 (a quarter is held out), found {count}")


def calibration_frames(
    request: ExportRequest, size: tuple[int, int], batch: int = 1
) -> tuple[CalibrationSet, CalibrationSet]:
    """(frames to calibrate on, held-out frames to measure on): the last quarter is held
    out, so that the INT8 error is never measured on the frames that set its ranges."""
    check_calibration_options(request.options)
    spec = str(request.options.get("calib") or DEFAULT_SOURCE)
    count = request.options.get("calib_frames")
    frames = open_calibration(spec, size, DEFAULT_COUNT if count is None else count, task=request.task)
    if len(frames) < 2:
        raise EdgeIRError(f"expected at least 2 calibration frames (1 held out), found {len(frames)} in {spec}")
    fit, held_out = frames.split(max(1, len(frames) // 4))
    if len(fit) < batch or len(held_out) < batch:
        raise EdgeIRError(
            f"expected calibration frames for whole batches of {batch} (the static batch), found "
            f"{len(fit)} to calibrate on and {len(held_out)} held out"
        )
    return fit, held_out


def describe(fit: CalibrationSet, held_out: CalibrationSet) -> dict[str, object]:
    return {"source": fit.source, "frames": len(fit), "held_out": len(held_out),
            "size": list(fit.size), "seed": fit.seed}
