"""What an export is asked to do and what it produced."""

from __future__ import annotations

import datetime
import platform
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from edgeir.export.targets import Target
from edgeir.manifest import Manifest
from edgeir.models.registry import INPUT_NAME, OUTPUT_NAMES, SIZE_MULTIPLE
from edgeir.models.size import min_side_for_task
from edgeir.models.weights import Weights
from edgeir.shapes import InputShapes


@dataclass
class ExportRequest:
    target: Target
    variant: str
    task: str
    weights: Weights
    output: Path
    shapes: InputShapes
    options: dict[str, Any] = field(default_factory=dict)

    def manifest(self, parity: dict[str, Any], details: dict[str, Any], versions: dict[str, str],
                 opset: int | None = None, runtime_options: dict[str, Any] | None = None,
                 precision: str | None = None) -> Manifest:
        """The facts every target records; the artifact's hash is added when written.
        ``precision`` is what was produced where a target offers several (Core ML)."""
        tensor = {"layout": "NCHW", "dtype": "float32", "range": [0.0, 1.0], "color": "RGB"}
        return Manifest(
            target=self.target.name,
            precision=precision or self.target.precision,
            runtime=self.target.runtime,
            variant=self.variant,
            task=self.task,
            weights=self.weights.record(),
            input={"name": INPUT_NAME, **tensor},
            output={"name": OUTPUT_NAMES[-1], **tensor},
            size_rule={"multiple": SIZE_MULTIPLE, "minimum": min_side_for_task(self.task)},
            shapes=self.shapes.to_dict(),
            versions=versions,
            parity=parity,
            opset=opset,
            runtime_options=runtime_options or {},
            details=details,
            created=now(),
        )


BUDGET_KEYS = ("max_psnr_drop_db", "psnr_drop_db", "psnr_fp32_vs_sharp_db", "psnr_int8_vs_sharp_db",
               "within_budget", "restored_to", "higher_precision_convolutions")
"""What ``--json`` says of a ``--max-psnr-drop`` export (the manifest has the search too)."""


@dataclass
class ExportResult:
    artifact: Path | None
    manifest_path: Path
    manifest: Manifest
    status: str = "ok"
    extra: dict[str, Any] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    """The summary ``edgeir export`` prints: the pipeline's lines, then the target's."""

    def summary(self) -> dict[str, Any]:
        details = self.manifest.details
        budget = {key: details[key] for key in BUDGET_KEYS if key in details} if "max_psnr_drop_db" in details else {}
        return {
            "status": self.status,
            "artifact": str(self.artifact) if self.artifact else None,
            "manifest": str(self.manifest_path),
            "target": self.manifest.target,
            "precision": self.manifest.precision,
            "parity": self.manifest.parity,
            "weights": self.manifest.weights["description"],
            **({"budget": budget} if budget else {}),
            **self.extra,
        }


def versions(*packages: str) -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in ("edgeir", "torch", *packages):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
