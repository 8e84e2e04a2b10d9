"""ConvIR: the faithful network, its checkpoints, its size rule and its export rewrite.

Names are resolved on first use, so that light modules such as ``edgeir.models.registry``
can be imported (by the CLI, by runtimes) without importing torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers and IDEs; at run time names resolve lazily below
    from edgeir.models.api import create_model, load_checkpoint
    from edgeir.models.convir import ConvIR
    from edgeir.models.registry import (
        DEFAULT_TASK,
        DEFAULT_VARIANT,
        INPUT_NAME,
        OUTPUT_NAMES,
        SIZE_MULTIPLE,
        TASKS,
        VARIANTS,
    )
    from edgeir.models.rewrite import exportable
    from edgeir.models.size import legal_size, min_side_for_task

_WHERE = {
    "create_model": "api",
    "load_checkpoint": "api",
    "ConvIR": "convir",
    "exportable": "rewrite",
    "legal_size": "size",
    "min_side_for_task": "size",
    **{
        name: "registry"
        for name in (
            "DEFAULT_TASK", "DEFAULT_VARIANT", "INPUT_NAME", "OUTPUT_NAMES",
            "SIZE_MULTIPLE", "TASKS", "VARIANTS",
        )
    },
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'edgeir.models' has no attribute {name!r}")
    return getattr(import_module(f"edgeir.models.{module}"), name)
