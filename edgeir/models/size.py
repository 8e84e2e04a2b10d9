"""Which input sizes ConvIR accepts, written once for every caller.

Two rules bind. Sides must divide by 32 (three stride-2 stages, then DeepPoolLayer
average pools of up to 8 at 1/4 scale). And every dynamic filter reflect-pads its
pooled map by its dilation, which PyTorch (and every exporter) only allows when the pad
is smaller than the map: at the deepest stage (1/4) the pools of 8, 4 and 2 leave maps of
side/32, side/16 and side/8 for dilations d0, d1 and d2.
"""

from __future__ import annotations

from edgeir.errors import EdgeIRError
from edgeir.models.registry import DEFAULT_TASK, SIZE_MULTIPLE, get_task

POOL_SIZES = (8, 4, 2)
DEEPEST_STAGE_SCALE = 4
MAX_SIDE = 16384
"""Largest side edgeir runs as one piece (export shapes, whole frames): beyond it a frame
is restored in tiles. ConvIR's full-resolution features alone would need tens of GB, and
a size typed with a zero too many should fail in a line, not in an allocation."""


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def min_side(dilations: tuple[int, ...]) -> int:
    """Smallest legal side for these dilations: each pooled map must exceed its pad."""
    needed = max(
        DEEPEST_STAGE_SCALE * pool * (dilation + 1) for pool, dilation in zip(POOL_SIZES, dilations)
    )
    return _round_up(needed, SIZE_MULTIPLE)


def min_side_for_task(task: str = DEFAULT_TASK) -> int:
    return min_side(get_task(task).dilations)


def tile_hint(tile: int | tuple[int, int] = 512) -> str:
    """The one way every size error says how to tile: for the CLI and for Python."""
    if not isinstance(tile, int) and tile[0] == tile[1]:
        tile = tile[0]
    side = tile if isinstance(tile, int) else f"{tile[0]}x{tile[1]}"
    return f"restore it in tiles (--tile {side}, Restorer(tile={tuple(tile) if not isinstance(tile, int) else tile}))"


def legal_size_for(h: int, w: int, dilations: tuple[int, ...]) -> tuple[int, int]:
    """``legal_size`` for a model's dilations (what runtimes know), not a task name."""
    for name, side in (("height", h), ("width", w)):
        if isinstance(side, bool) or not isinstance(side, int) or side < 1:
            raise EdgeIRError(f"expected a positive integer {name}, found {side!r}")
        if side > MAX_SIDE:
            raise EdgeIRError(f"expected a {name} of at most {MAX_SIDE} pixels in one piece, found "
                              f"{h}x{w}: {tile_hint()}")
    smallest = min_side(dilations)
    return (max(_round_up(h, SIZE_MULTIPLE), smallest), max(_round_up(w, SIZE_MULTIPLE), smallest))


def legal_size(h: int, w: int, task: str = DEFAULT_TASK) -> tuple[int, int]:
    """The smallest legal (H, W) that an h x w frame fits in after padding."""
    return legal_size_for(h, w, get_task(task).dilations)


def check_size(h: int, w: int, dilations: tuple[int, ...], what: str = "ConvIR") -> None:
    """Raise a one-line EdgeIRError naming the legal size when (h, w) is not legal."""
    legal_h, legal_w = legal_size_for(h, w, dilations)
    if (legal_h, legal_w) != (h, w):
        raise EdgeIRError(
            f"{what} needs input sides that are multiples of {SIZE_MULTIPLE} and at least "
            f"{min_side(dilations)}; found {h}x{w}: pad it to {legal_h}x{legal_w} "
            "(edgeir.models.legal_size) and crop the output back"
        )


def check_input(shape: tuple[int, ...], dilations: tuple[int, ...], what: str = "ConvIR") -> None:
    """Check an input tensor's shape: N x 3 x H x W with a legal H x W."""
    if len(shape) != 4 or shape[1] != 3:
        raise EdgeIRError(f"{what} expects an N x 3 x H x W tensor, found shape {tuple(shape)}")
    check_size(int(shape[2]), int(shape[3]), dilations, what)
