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
