"""The ``edgeir`` command: parses arguments, calls the library, prints results.

One module per command (``register`` adds its parser, ``run`` does the work). User
errors (``EdgeIRError``) print as one line on stderr with exit code 1; heavy modules are
imported inside ``run`` so that ``edgeir --help`` is instant.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

from edgeir import __version__
from edgeir.cli import (
    bench,
    build_engine,
    calib,
    compare,
    export,
    info,
    pack,
    run,
    serve,
    train,
    triton_repo,
)
from edgeir.cli.common import parse_size
from edgeir.errors import EdgeIRError, Terminated
from edgeir.offline import mark_handler

__all__ = ["build_parser", "main", "parse_size"]

COMMANDS = (info, export, build_engine, calib, run, serve, bench, compare, pack, train, triton_repo)

HOST_PACKAGES = {"torch": "host", "rich": "host", "onnx": "onnx", "onnxslim": "onnx", "nncf": "openvino",
                 "coremltools": "coreml", "modelopt": "tensorrt", "skimage": "data",
                 "matplotlib": "data", "albumentations": "data", "cv2": "video", "PIL": "images"}
"""Packages the host commands import, with the extra that installs each: a device install
(numpy and one runtime) that runs a host command gets this, not a traceback."""
HOST_COMMAND_EXTRAS = {"export": "onnx", "pack": "onnx", "bench": "onnx", "compare": "onnx", "calib": "data", "train": "data"}


def missing_package(exc: ModuleNotFoundError, command: str) -> str | None:
    """One line for a host package this install lacks; None for anything else (a bug)."""
    top = (exc.name or "").split(".")[0]
    if top not in HOST_PACKAGES:
        return None
    extra = HOST_PACKAGES[top]
    if extra == "host":  # torch or rich: the extra that brings the rest of the command too
        extra = HOST_COMMAND_EXTRAS.get(command, "host")
    torch_first = " (on a CPU machine, pip install torch==2.13.0 first)" if extra in ("host", "onnx", "data") else ""
    return f'edgeir {command} needs {top}, which this install lacks: pip install "edgeir[{extra}]"{torch_first}'


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


@mark_handler
def _terminate(signum: int, frame: object) -> None:
    raise Terminated()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Signal handlers can only be set in the main thread (a test may call main() elsewhere).
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main else None
    try:
        return args.run(args)
    except EdgeIRError as exc:
        print(f"edgeir: error: {exc}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as exc:
        line = missing_package(exc, args.command)
        if line is None:
            raise
        print(f"edgeir: error: {line}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("edgeir: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("edgeir: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)
