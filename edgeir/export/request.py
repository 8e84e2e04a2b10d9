"""What an export is asked to do and what it produced."""

from __future__ import annotations

import datetime
import hashlib
import platform
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from edgeir.export.targets import Target
from edgeir.manifest import Manifest
from edgeir.shapes import InputShapes

RANDOM_WEIGHTS = (
    "random initialisation (no --weights given): the graph is real, its outputs are not "
    "restorations"
)


@dataclass
class ExportRequest:
    target: Target
    variant: str
    task: str
    weights: Path | None
    output: Path
    shapes: InputShapes
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class ExportResult:
    artifact: Path | None
    manifest_path: Path
    manifest: Manifest
    status: str = "ok"
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "artifact": str(self.artifact) if self.artifact else None,
            "manifest": str(self.manifest_path),
            "target": self.manifest.target,
            "precision": self.manifest.precision,
            "parity": self.manifest.parity,
            "weights": self.manifest.weights["description"],
            **self.extra,
        }


def weights_record(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {"path": None, "sha256": None, "description": RANDOM_WEIGHTS}
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return {"path": str(path), "sha256": digest, "description": f"checkpoint {Path(path).name}"}


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
