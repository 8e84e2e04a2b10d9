"""What every command shares: size parsing, model options, logging to stderr."""

from __future__ import annotations

import argparse
import logging
import re
import sys

from edgeir.models.registry import DEFAULT_TASK, DEFAULT_VARIANT, TASKS, VARIANTS


def parse_size(text: str) -> tuple[int, int]:
    """``HxW`` (or a single number for a square) as (height, width)."""
    match = re.fullmatch(r"\s*(\d+)\s*(?:[xX]\s*(\d+))?\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"expected a size like 256x256 (HxW), found {text!r}")
    h = int(match.group(1))
    w = int(match.group(2) or h)
    if h < 1 or w < 1:
        raise argparse.ArgumentTypeError(f"expected positive sides, found {text!r}")
    return h, w


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
