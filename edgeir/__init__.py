"""edgeir: ConvIR image-restoration networks on edge runtimes.

Heavy modules (torch and the runtimes) are imported on first use, so that
``import edgeir`` and ``edgeir --help`` stay fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from edgeir.errors import EdgeIRError

__version__ = "0.1.0"

_LAZY = {
    "create_model": "edgeir.models",
    "load_checkpoint": "edgeir.models",
    "Restorer": "edgeir.runtimes.restorer",
}

__all__ = ["EdgeIRError", "__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'edgeir' has no attribute {name!r}")
    return getattr(import_module(module), name)
