"""What every command shares: size parsing, model options, logging to stderr."""

from __future__ import annotations

import argparse
import logging
import sys

from edgeir.errors import EdgeIRError
from edgeir.models.registry import DEFAULT_TASK, DEFAULT_VARIANT, TASKS, VARIANTS
from edgeir.shapes import parse_hw


def parse_size(text: str) -> tuple[int, int]:
    """:func:`edgeir.shapes.parse_hw` for argparse, which reports its own type errors."""
    try:
        return parse_hw(text)
    except EdgeIRError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_tile(text: str) -> int | tuple[int, int]:
    """``--tile N`` (square) or ``--tile HxW`` (a static model's own size, for instance)."""
    if text.isdigit():
        return int(text)
    height, width = parse_size(text)
    return height if height == width else (height, width)


def add_tile_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tile", type=parse_tile, default=None, metavar="N|HxW",
                        help="restore frames larger than the tile in overlapping tiles of NxN (or HxW) "
                        "pixels (default: whole frames)")


def add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--variant", choices=list(VARIANTS), default=DEFAULT_VARIANT,
        help="ConvIR size: "
        + ", ".join(f"{v.name} = {v.num_res}" for v in VARIANTS.values())
        + f" residual blocks per stage (default: {DEFAULT_VARIANT})",
    )
    parser.add_argument(
        "--task", choices=list(TASKS), default=DEFAULT_TASK,
        help=f"task preset; it sets the dynamic-filter dilations (default: {DEFAULT_TASK})",
    )


def setup_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("edgeir: %(message)s"))
    logger = logging.getLogger("edgeir")
    if not logger.handlers:
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
