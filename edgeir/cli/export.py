"""``edgeir export``: one target, verified, with its manifest."""

from __future__ import annotations

import argparse
import json

from edgeir.cli.common import add_model_options, parse_size, setup_logging
from edgeir.export.targets import TARGETS

TARGET_OPTIONS = ("opset",)
"""Target-specific options: passed only when given, so a target that does not take one
refuses it instead of ignoring it."""


def run(args: argparse.Namespace) -> int:
    from edgeir.export import export

    setup_logging()
    result = export(
        args.target,
        variant=args.variant,
        task=args.task,
        weights=args.weights,
        output=args.output,
        shape=args.shape,
        dynamic=args.dynamic,
        batch=args.batch,
        **{name: getattr(args, name) for name in TARGET_OPTIONS},
    )
    summary = result.summary()
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    parity = summary["parity"]
    print(f"{summary['target']} ({summary['precision']}): {summary['artifact']}")
    print(f"  manifest  {summary['manifest']}")
    print(f"  parity    max abs {parity['max_abs']:.2e}, PSNR {parity['psnr_db']} dB "
          f"vs {parity['reference']}")
    print(f"  weights   {summary['weights']}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "export",
        help="export a ConvIR to a deployment target, verified against PyTorch",
        description="Export the export-friendly ConvIR to a target, check that the artifact "
        "computes what PyTorch computes, and write it atomically with a manifest beside it. "
        "Targets: " + "; ".join(f"{t.name}: {t.summary}" for t in TARGETS.values()),
    )
    parser.add_argument("--target", required=True, choices=list(TARGETS), help="what to produce")
    add_model_options(parser)
    parser.add_argument("--weights", metavar="PATH", help="checkpoint to export (default: random "
                        "initialisation, which the output and manifest say)")
    shapes = parser.add_mutually_exclusive_group()
    shapes.add_argument("--shape", type=parse_size, metavar="HxW",
                        help="static input size (must be legal: see edgeir info)")
    shapes.add_argument(
        "--dynamic", nargs="?", const=None, metavar="MIN:OPT:MAX",
        help="dynamic batch/height/width (the default), e.g. 256x256:736x1280:1088x1920 or "
        "MIN:MAX; without a value: the task's smallest legal square to 1088x1920, opt 736x1280",
    )
    parser.add_argument("--batch", type=int, default=1,
                        help="batch of a static graph; the batch a dynamic one is planned for "
                        "(default: 1)")
    parser.add_argument("--opset", type=int, default=None,
                        help="ONNX opset (onnx targets; default: 17)")
    parser.add_argument("-o", "--output", metavar="PATH",
                        help="artifact path (default: convir-VARIANT_TASK_TARGET.SUFFIX here)")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.set_defaults(run=run)
