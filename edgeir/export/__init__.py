"""Export a ConvIR to a deployment target: ``export("onnx", variant="s")``.

Targets are listed in ``targets.TARGETS``; each exporter is imported only when used,
so a missing extra affects only its own targets.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import Any

from edgeir.errors import EdgeIRError
from edgeir.export.request import ExportRequest, ExportResult
from edgeir.export.targets import TARGETS, Target, check_available, check_options, get_target
from edgeir.fileio import check_output
from edgeir.models.registry import DEFAULT_TASK, DEFAULT_VARIANT, get_task, get_variant
from edgeir.models.weights import choose_weights
from edgeir.shapes import InputShapes, Size

__all__ = ["TARGETS", "ExportResult", "Target", "default_output", "export"]


DEFAULT_SIZES = "736x1280,256x256,512x512,1088x1920"
"""Enumerated sizes of Core ML exports: 720p (the default, padded to legal), small crops
and 1080p."""


def _input_shapes(spec: Target, task: str, batch: int, shape: Size | None, dynamic: str | None,
                  listed: str | None) -> InputShapes:
    given = [flag for flag, value in (("--shape", shape), ("--dynamic", dynamic), ("--shapes", listed))
             if value is not None]
    if len(given) > 1:
        raise EdgeIRError(f"expected one of --shape, --dynamic or --shapes, found {' and '.join(given)}")
    if shape is not None:
        return InputShapes.fixed(shape, task, batch)
    if listed is not None or (dynamic is None and spec.default_shapes == "enumerated"):
        return InputShapes.enumerated(listed or DEFAULT_SIZES, task, batch)
    return InputShapes.dynamic(dynamic, task, batch)


def default_output(target: Target, variant: str, task: str) -> Path:
    return Path(f"convir-{variant}_{task}_{target.name}{target.suffix}")


def export(
    target: str,
    variant: str = DEFAULT_VARIANT,
    task: str = DEFAULT_TASK,
    weights: str | Path | None = None,
    output: str | Path | None = None,
    shape: Size | None = None,
    dynamic: str | None = None,
    batch: int = 1,
    overwrite: bool = False,
    **options: Any,
) -> ExportResult:
    """Export and verify; ``shape`` (H, W) gives a static graph, ``dynamic``
    (``MIN:OPT:MAX``, default: smallest legal square to 1080p) a dynamic one, and the
    ``shapes`` option (``"HxW,HxW"``, Core ML) a list of sizes; without any, the target's
    default (a range, or for Core ML :data:`DEFAULT_SIZES`). ``weights``
    is a checkpoint, ``"demo"`` or ``"random"``; None takes the demo weights where they
    exist (S, motion-deblur) and random initialisation elsewhere. Existing outputs (the
    artifact, its manifest, its companion files) are replaced only with ``overwrite``."""
    spec = get_target(target)
    get_variant(variant)
    get_task(task)
    check_options(spec, options)
    if "calib" in spec.options:
        from edgeir.export.calibration import check_calibration_options  # numpy: not at --help

        check_calibration_options(options)
    shapes = _input_shapes(spec, task, batch, shape, dynamic, options.get("shapes"))
    chosen = choose_weights(variant, task, weights)
    check_available(spec)
    out = Path(output) if output is not None else default_output(spec, variant, task)
    if out.suffix != spec.suffix:
        raise EdgeIRError(f"expected an output path ending in {spec.suffix} for {spec.name}, found {out}")
    for path in spec.outputs(out):
        check_output(path, overwrite, folder=path == out and spec.suffix == ".mlpackage")
    request = ExportRequest(spec, variant, task, chosen, out, shapes, options)
    module, function = spec.exporter.split(":")
    return getattr(import_module(module), function)(request)
