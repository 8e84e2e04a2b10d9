"""``edgeir info``: size, cost and input rules of a ConvIR variant."""

from __future__ import annotations

import argparse
import json

from edgeir.cli.common import add_model_options, parse_size
from edgeir.models.registry import SIZE_MULTIPLE


def run(args: argparse.Namespace) -> int:
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


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "info",
        help="parameters, GMACs, legal input sizes and outputs of a ConvIR variant",
        description="Describe a ConvIR variant: parameter count, convolution GMACs at a "
        "size, the smallest legal input and the outputs it returns.",
    )
    add_model_options(parser)
    parser.add_argument(
        "--size", type=parse_size, default=(256, 256), metavar="HxW",
        help="frame size for the GMAC count; an illegal size is counted at the padded "
        "size the runtime would use, and the output says so (default: 256x256)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(run=run)
