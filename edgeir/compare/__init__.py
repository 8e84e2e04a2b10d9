"""Compare two artifacts (or one against PyTorch) layer by layer: ``edgeir compare A B``.

Where an INT8 or FP16 artifact loses quality, the network's output says how much but not
where. This runs both sides on the same frames, captures the output of every convolution
both have (matched by module path: ``layers``; per runtime: ``capture``), scores each and
finds the first layer where the error jumps (``report``). Names resolve on first use, so
that the CLI can read the defaults without importing numpy or a runtime.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edgeir.compare.report import Comparison
    from edgeir.compare.run import compare_layers

DEFAULT_COUNT = 4
DEFAULT_SIZE = (256, 256)
"""Of a dynamic artifact, unless ``--size`` says otherwise."""
DEFAULT_JUMP_DB = 3.0
ROUNDING_DB = 100.0
"""A layer this close to the reference differs by float rounding (reordered sums), not by
precision: drops above it are noise, never the jump."""

_WHERE = {"Comparison": "report", "compare_layers": "run"}

__all__ = ["DEFAULT_COUNT", "DEFAULT_JUMP_DB", "DEFAULT_SIZE", "Comparison", "compare_layers"]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'edgeir.compare' has no attribute {name!r}")
    return getattr(import_module(f"edgeir.compare.{module}"), name)
