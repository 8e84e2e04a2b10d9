"""What every command shares: size parsing, model options, logging to stderr."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from edgeir.errors import EdgeIRError
from edgeir.models.registry import DEFAULT_TASK, DEFAULT_VARIANT, TASKS, VARIANTS
from edgeir.shapes import parse_hw


def parse_size(text: str) -> tuple[int, int]:
    """:func:`edgeir.shapes.parse_hw` for argparse, which reports its own type errors."""
    try:
        return parse_hw(text)
    except EdgeIRError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


class Renamed(argparse.Action):
    """An option's old spelling: it still works and says the new one once per use. Hidden
    from ``--help``, which lists one name per thing across every command."""

    def __init__(self, option_strings: list[str], dest: str, new: str, **kwargs: object) -> None:
        self.new = new
        kwargs.setdefault("help", argparse.SUPPRESS)
        super().__init__(option_strings, dest, **kwargs)  # type: ignore[arg-type]

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:
        print(f"edgeir: warning: {option_string} is now {self.new} (the old name still works, for now)",
              file=sys.stderr)
        setattr(namespace, self.dest, self.const if self.nargs == 0 else values)


def add_renamed(parser: Any, old: str, new: str, dest: str, **kwargs: Any) -> None:
    """``old`` as a hidden alias of ``new`` (which writes ``dest``); ``const=`` for an old switch
    that set a value (``--bgr`` for ``--color bgr``)."""
    if "const" in kwargs:
        kwargs["nargs"] = 0
    parser.add_argument(old, dest=dest, action=Renamed, new=new, default=argparse.SUPPRESS, **kwargs)


def add_out_option(parser: argparse.ArgumentParser, help: str, dest: str = "output", renamed: bool = True,
                   **kwargs: Any) -> None:
    """``-o/--out``, the one name of every command's output; ``renamed``: ``--output``, its
    old spelling in the commands that had it, still works."""
    parser.add_argument("-o", "--out", dest=dest, help=help, **kwargs)
    if renamed:
        add_renamed(parser, "--output", "--out", dest, type=kwargs.get("type"))


def add_color_option(parser: argparse.ArgumentParser) -> None:
    """``--color rgb|bgr``, as ``Restorer(color=...)`` says it (``--bgr`` still works)."""
    parser.add_argument("--color", choices=("rgb", "bgr"), default="rgb",
                        help="channel order the network was trained on: bgr for frames loaded with OpenCV "
                        "(default: rgb)")
    add_renamed(parser, "--bgr", "--color bgr", "color", const="bgr")


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
