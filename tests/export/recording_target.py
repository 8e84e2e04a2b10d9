"""A target module for testing the pipeline: it records what the pipeline asks of it and
"converts" to nothing (its artifact is the network's own output saved as .npy). No test
takes its artifact for a real conversion."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeir.export.pipeline import Network, Product
from edgeir.export.request import ExportRequest
from edgeir.manifest import Manifest

CALLS: list[tuple[str, Any]] = []
OFFSET = 0.0
"""Added to every output, to make the artifact disagree with PyTorch."""


def check_options(request: ExportRequest) -> None:
    CALLS.append(("check_options", dict(request.options)))


def here(request: ExportRequest) -> str:
    CALLS.append(("here", request.target.name))
    return "the double says what this machine will not do"


@dataclass
class RecordingProduct(Product):
    network: Any = None

    def run(self, x: np.ndarray) -> np.ndarray:
        CALLS.append(("run", x.shape))
        return self.network.rewrite_output(x) + OFFSET

    def embed(self, manifest: Manifest) -> None:
        CALLS.append(("embed", manifest.target))

    def save(self, path: Path) -> None:
        CALLS.append(("save", path))
        np.save(path, np.zeros(3))

    def lines(self, manifest: Manifest) -> list[str]:
        return ["  double    recorded"]


def make(request: ExportRequest, network: Network) -> RecordingProduct:
    CALLS.append(("make", (network.batch, network.size)))
    return RecordingProduct(runtime="numpy (a recording double)", versions=("numpy",), precision="fp32",
                            network=network)
