"""edgeir: ConvIR image-restoration networks on edge runtimes.

Heavy modules (torch and the runtimes) are imported on first use, so that
``import edgeir`` and ``edgeir --help`` stay fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from edgeir import offline
from edgeir.errors import EdgeIRError

offline.apply()  # before any library is imported: edgeir sends nothing, forked children never hang it

__version__ = "0.1.0"

_LAZY = {
    "create_model": "edgeir.models",
    "load_checkpoint": "edgeir.models",
    "Restorer": "edgeir.runtimes.restorer",
}
SUBPACKAGES = ("runtimes", "models", "export", "calib", "bench", "data")
"""Reachable as attributes after ``import edgeir`` (``edgeir.runtimes.load``, as the README
writes it), each imported on first use."""

__all__ = ["EdgeIRError", "__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in SUBPACKAGES:
        return import_module(f"edgeir.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'edgeir' has no attribute {name!r}")
    return getattr(import_module(module), name)
