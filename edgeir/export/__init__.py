"""Export a ConvIR to a deployment target: ``export("onnx", variant="s")``.

Targets are rows of ``targets.TARGETS``; ``pipeline`` runs every export the same way and
imports a target's module only when it is used, so a missing extra affects only its own
targets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgeir.export.pipeline import DEFAULT_SIZES, default_output
from edgeir.export.request import ExportResult
from edgeir.export.targets import TARGETS, Target
from edgeir.models.registry import DEFAULT_TASK, DEFAULT_VARIANT
from edgeir.shapes import Size

__all__ = ["DEFAULT_SIZES", "TARGETS", "ExportResult", "Target", "default_output", "export"]


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
    artifact, its manifest, its companion files) are replaced only with ``overwrite``.
    Target options (``edgeir.export.targets.OPTIONS``) are checked before any work."""
    from edgeir.export import pipeline

    return pipeline.export(target, variant=variant, task=task, weights=weights, output=output, shape=shape,
                           dynamic=dynamic, batch=batch, overwrite=overwrite, **options)
