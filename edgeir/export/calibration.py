"""The calibration frames of an INT8 export: ``--calib``, ``--calib-frames``, held out."""

from __future__ import annotations

from typing import Any

from edgeir.calib.sources import DEFAULT_COUNT, CalibrationSet, check_source, open_calibration
from edgeir.errors import EdgeIRError
from edgeir.export.request import ExportRequest
from edgeir.gate import Gate

DEFAULT_SOURCE = "synthetic"


def check_calibration_options(options: dict[str, object]) -> None:
    """The ``--calib`` / ``--calib-frames`` rules that need no frames and no graph, checked
    before the trace so that a wrong option costs seconds, not an export."""
    spec = str(options.get("calib") or DEFAULT_SOURCE)
    check_source(spec)
    count = options.get("calib_frames")
    if count is not None and spec.endswith(".npz"):
        raise EdgeIRError(
            f"expected --calib-frames only with a source to take frames from, found it with {spec}, "
            "which holds a fixed set: choose the count in edgeir calib -n"
        )
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 2):
        raise EdgeIRError(f"expected --calib-frames of at least 2 (a quarter is held out), found {count}")
    from edgeir.calib.budget import check_budget

    check_budget(options.get("max_psnr_drop"))  # type: ignore[arg-type]


def calibration_frames(
    request: ExportRequest, size: tuple[int, int], batch: int = 1
) -> tuple[CalibrationSet, CalibrationSet]:
    """(frames to calibrate on, held-out frames to measure on): the last quarter is held
    out, so that the INT8 error is never measured on the frames that set its ranges."""
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


def budget_gates(details: dict[str, Any], held_out: CalibrationSet | None) -> tuple[Gate, ...]:
    """``--max-psnr-drop`` as a gate of the export: over it, nothing is written and the
    error gives the best drop reached and how."""
    if "max_psnr_drop_db" not in details or held_out is None:
        return ()
    from edgeir.calib.budget import budget_gate

    if "budget_search" in details:
        from edgeir.calib.steer import budget_hint

        hint = budget_hint(details)
    else:
        hint = f"{details['accuracy_control']}; try a larger --max-psnr-drop or --calib with your own frames"
    return (budget_gate(details["max_psnr_drop_db"], len(held_out), hint),)


def calibration_lines(details: dict[str, Any]) -> list[str]:
    """The INT8 figures of a quantized graph: its loss on held-out frames, the calibration."""
    if "calibration" not in details:
        return []
    scheme = f"{details['scheme_summary']}; " if "scheme_summary" in details else ""
    calibration = details["calibration"]
    method = f", {details['calibration_method']} ranges" if "calibration_method" in details else ""
    lines = [f"  int8      {scheme}{details['psnr_vs_fp32_graph_db']} dB vs the FP32 graph on "
             f"{details['psnr_measured_on']}",
             f"  calib     {calibration['frames']} frames of {calibration['source']}{method}"]
    if "kept_fp32" in details:
        left = details.get("higher_precision_convolutions")
        count = f" ({len(left)} convolution(s) in higher precision)" if left is not None else ""
        lines.append(f"  fp32      kept {', '.join(details['kept_fp32']) or 'nothing'}{count}")
    if "max_psnr_drop_db" in details:
        lines.append(f"  budget    PSNR drop {details['psnr_drop_db']} dB vs sharp frames, within the "
                     f"{details['max_psnr_drop_db']} dB budget")
    return lines
