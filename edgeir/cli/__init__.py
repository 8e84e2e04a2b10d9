"""The ``edgeir`` command: parses arguments, calls the library, prints results.

One module per command (``register`` adds its parser, ``run`` does the work). User
errors (``EdgeIRError``) print as one line on stderr with exit code 1; heavy modules are
imported inside ``run`` so that ``edgeir --help`` is instant.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from edgeir import __version__
from edgeir.cli import bench, build_engine, calib, export, info, run, train
from edgeir.cli.common import parse_size
from edgeir.errors import EdgeIRError

__all__ = ["build_parser", "main", "parse_size"]

COMMANDS = (info, export, build_engine, calib, run, bench, train)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edgeir",
        description="Take trained ConvIR image-restoration networks to edge runtimes.",
    )
    parser.add_argument("--version", action="version", version=f"edgeir {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except EdgeIRError as exc:
        print(f"edgeir: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("edgeir: interrupted", file=sys.stderr)
        return 130
