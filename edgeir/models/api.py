"""Building ConvIR models: fresh, or from a checkpoint file."""

from __future__ import annotations

from pathlib import Path

from edgeir.models.checkpoint import load_into, read_state_dict, resolve_variant
from edgeir.models.convir import ConvIR
from edgeir.models.registry import DEFAULT_TASK, DEFAULT_VARIANT


def create_model(
    variant: str = DEFAULT_VARIANT,
    task: str = DEFAULT_TASK,
    weights: str | Path | None = None,
) -> ConvIR:
    """A ConvIR in eval mode: randomly initialised, or with ``weights`` (which must hold
    the same variant; a different one is an error, not a silent switch)."""
    if weights is not None:
        return load_checkpoint(weights, variant=variant, task=task)
    return ConvIR(variant, task).eval()


def load_checkpoint(
    path: str | Path, variant: str | None = None, task: str = DEFAULT_TASK
) -> ConvIR:
    """A ConvIR in eval mode holding the weights in ``path``.

    The variant is read from the keys when not given. The task cannot be: presets differ
    only in dilations, which are not stored, so it is the caller's to say.
    """
    state_dict = read_state_dict(path)
    found = resolve_variant(state_dict, variant)
    model = ConvIR(found.name, task)
    load_into(model, state_dict, f"{model.label} in {path}")
    return model.eval()
