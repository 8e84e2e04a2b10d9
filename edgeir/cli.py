"""The ``edgeir`` command: parses arguments, calls the library, prints results.

User errors (``EdgeIRError``) print as one line on stderr with exit code 1; heavy
modules are imported inside the commands so that ``edgeir --help`` is instant.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence

from edgeir import __version__
from edgeir.errors import EdgeIRError
from edgeir.models.registry import DEFAULT_TASK, DEFAULT_VARIANT, SIZE_MULTIPLE, TASKS, VARIANTS


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


def _add_model_options(parser: argparse.ArgumentParser) -> None:
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


def _cmd_info(args: argparse.Namespace) -> int:
    from edgeir.models import OUTPUT_NAMES, create_model, legal_size, min_side_for_task
    from edgeir.models.profile import count_macs, count_parameters

    model = create_model(args.variant, args.task)
    h, w = args.size
    padded_h, padded_w = legal_size(h, w, args.task)
    info = {
        "model": model.label,
        "variant": args.variant,
        "task": args.task,
        "parameters": count_parameters(model),
        "size": f"{h}x{w}",
        "padded_size": f"{padded_h}x{padded_w}",
        "gmacs": round(count_macs(args.variant, args.task, padded_h, padded_w) / 1e9, 2),
        "size_rule": {"multiple": SIZE_MULTIPLE, "minimum": min_side_for_task(args.task)},
        "dilations": list(model.dilations),
        "outputs": list(OUTPUT_NAMES),
        "deployed_output": OUTPUT_NAMES[-1],
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    rule = info["size_rule"]
    print(f"{info['model']}")
    print(f"  parameters      {info['parameters']:,}")
    at = info["size"]
    if info["padded_size"] != at:
        at += f", run padded to {info['padded_size']}"
    print(f"  GMACs           {info['gmacs']:.2f} at {at} (convolutions, deployed output)")
    print(f"  input sides     multiples of {rule['multiple']}, at least {rule['minimum']}")
    print(f"  dilations       {', '.join(map(str, info['dilations']))}")
    print(f"  outputs         {', '.join(info['outputs'])} (1/4, 1/2, full scale); "
          f"exports keep '{info['deployed_output']}'")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edgeir",
        description="Take trained ConvIR image-restoration networks to edge runtimes.",
    )
    parser.add_argument("--version", action="version", version=f"edgeir {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    info = commands.add_parser(
        "info",
        help="parameters, GMACs, legal input sizes and outputs of a ConvIR variant",
        description="Describe a ConvIR variant: parameter count, convolution GMACs at a "
        "size, the smallest legal input and the outputs it returns.",
    )
    _add_model_options(info)
    info.add_argument(
        "--size", type=parse_size, default=(256, 256), metavar="HxW",
        help="frame size for the GMAC count; an illegal size is counted at the padded "
        "size the runtime would use, and the output says so (default: 256x256)",
    )
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.set_defaults(run=_cmd_info)
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


if __name__ == "__main__":
    sys.exit(main())
