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
from edgeir.models.registry import DEFAULT_TASK, DEFAULT_VARIANT, get_task, get_variant
from edgeir.models.weights import choose_weights
from edgeir.shapes import InputShapes, Size

__all__ = ["TARGETS", "ExportResult", "Target", "default_output", "export"]


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
    **options: Any,
) -> ExportResult:
    """Export and verify; ``shape`` (H, W) gives a static graph, otherwise ``dynamic``
    (``MIN:OPT:MAX``, default: smallest legal square to 1080p) a dynamic one. ``weights``
    is a checkpoint, ``"demo"`` or ``"random"``; None takes the demo weights where they
    exist (S, motion-deblur) and random initialisation elsewhere."""
    spec = get_target(target)
    get_variant(variant)
    get_task(task)
    check_options(spec, options)
    if shape is not None and dynamic is not None:
        raise EdgeIRError("expected either --shape or --dynamic, found both")
    shapes = (
        InputShapes.fixed(shape, task, batch) if shape is not None
        else InputShapes.dynamic(dynamic, task, batch)
    )
    chosen = choose_weights(variant, task, weights)
    check_available(spec)
    out = Path(output) if output is not None else default_output(spec, variant, task)
    if out.suffix != spec.suffix:
        raise EdgeIRError(f"expected an output path ending in {spec.suffix} for {spec.name}, found {out}")
    request = ExportRequest(spec, variant, task, chosen, out, shapes, options)
    module, function = spec.exporter.split(":")
    return getattr(import_module(module), function)(request)
