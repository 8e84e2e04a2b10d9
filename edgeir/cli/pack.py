"""``edgeir pack``: export targets into a bundle that ``edgeir bench --bundle`` measures on the device."""

from __future__ import annotations

import argparse
from pathlib import Path

from edgeir.cli.bench import add_evaluation_options, config_from
from edgeir.cli.common import add_out_option, add_renamed, setup_logging


def run(args: argparse.Namespace) -> int:
    from edgeir.bench.harness import parse_targets
    from edgeir.bench.pack import pack

    setup_logging()
    targets = parse_targets(args.targets)
    if args.targets == "all":  # every export target; the torch outputs are always in the bundle
        targets = [t for t in targets if t != "torch"]
    out = pack(config_from(args, args.out), targets, cache=args.cache)
    print(f"packed {len(targets)} target(s) into {out}: copy the folder to the device, then")
    print(f"  edgeir bench --bundle {out.name} --out report/")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "pack",
        help="export targets into a bundle for benchmarking on the device (no torch there)",
        description="Export each target (for trt-*: the TRT-ready ONNX; the engine is built on the "
        "device), and write them into one folder with the evaluation frames, their ground truth, "
        "the torch FP32 outputs on them and bundle.json (the sha256 of every file, the host, library "
        "versions and the evaluation settings). On the device, edgeir bench --bundle DIR measures "
        "the same fields as edgeir bench here, with numpy and one runtime installed.",
    )
    add_evaluation_options(parser)
    add_renamed(parser, "--target", "--targets", "targets")
    parser.add_argument("--targets", default="all",
                        help="all (every export target), or a comma list such as "
                        "onnx,onnx-int8,openvino-int8,trt-fp16,trt-int8 (default: all)")
    parser.add_argument("--cache", type=Path, metavar="DIR",
                        help="reuse the exports of an edgeir bench --out DIR made with the same "
                        "settings (and add new ones there)")
    add_out_option(parser, "the bundle folder to create", dest="out", renamed=False, type=Path, required=True,
                   metavar="DIR")
    parser.set_defaults(run=run)
