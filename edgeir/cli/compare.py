"""``edgeir compare``: two artifacts (or one and PyTorch), layer by layer, on the same frames."""

from __future__ import annotations

import argparse
from pathlib import Path

from edgeir.calib.sources import SOURCE_HELP
from edgeir.cli.common import parse_size, setup_logging
from edgeir.compare import DEFAULT_COUNT, DEFAULT_JUMP_DB, DEFAULT_SIZE
from edgeir.errors import EdgeIRError


def run(args: argparse.Namespace) -> int:
    from edgeir.compare import compare_layers
    from edgeir.compare.report import print_report, write_plot
    from edgeir.fileio import check_writable

    setup_logging()
    if args.plot is not None:  # a bad place fails now, not after the run
        if args.plot.is_dir():
            raise EdgeIRError(f"expected a file path for --plot, found a folder at {args.plot}")
        check_writable(args.plot.absolute().parent)
    result = compare_layers(args.a, args.b, frames=args.frames, count=args.count, size=args.size,
                            weights=args.weights, jump_db=args.jump_db)
    if args.json:
        print(result.to_json())
    else:
        print_report(result)
    if args.plot is not None:
        path = write_plot(result, args.plot)
        if not args.json:
            print(f"plot:    {path}")
    return 0


def _jump_db(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of dB, found {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of dB, found {text!r}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of frames, found {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1 frame, found {text!r}")
    return value


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "compare",
        help="compare two artifacts (or one and PyTorch) layer by layer: where the error appears",
        description="Run A and B on the same frames and print, for every convolution both have, "
        "the PSNR and max abs error of B's output against A's (A is the reference), the network's "
        "output, the first layer where the error jumps and the worst layer. Layers are matched by "
        "module path: the exporter names an ONNX node after the module that made it "
        "(/Encoder.0/layers/layers.0/main/main.0/Conv is Encoder.0.layers.0.main.0), OpenVINO "
        "keeps those names, and PyTorch convolutions are keyed by the module running them; "
        "the counts of layers matched and unmatched on each side are printed. PSNR of an "
        "activation (which has no fixed range) uses the peak of A's tensor, its max abs value, "
        "per frame; the output's uses peak 1. Runs on the CPU: ONNX Runtime, OpenVINO (with the "
        "artifact's runtime options), PyTorch.",
    )
    parser.add_argument("a", metavar="A", help="the reference: an .onnx, .trt.onnx or .xml artifact edgeir "
                        "wrote (its manifest beside it), or torch: the PyTorch export rewrite of the other "
                        "side's variant, task and weights")
    parser.add_argument("b", metavar="B", help="the candidate: an artifact, or torch")
    parser.add_argument("--frames", default="synthetic", metavar="SOURCE",
                        help=f"frames to run, as calibration takes them: {SOURCE_HELP} (default: synthetic, "
                        "its calib split)")
    parser.add_argument("--count", type=_count, default=DEFAULT_COUNT, metavar="N",
                        help=f"frames to take (default: {DEFAULT_COUNT}; a static artifact runs whole "
                        "batches of its batch)")
    parser.add_argument("--size", type=parse_size, default=None, metavar="HxW",
                        help="frame size for dynamic artifacts (default: "
                        f"{DEFAULT_SIZE[0]}x{DEFAULT_SIZE[1]}; a static artifact's own size otherwise)")
    parser.add_argument("--weights", metavar="PATH|demo",
                        help="with torch: the checkpoint to build it from (default: the weights the "
                        "artifact's manifest records)")
    parser.add_argument("--jump-db", type=_jump_db, default=DEFAULT_JUMP_DB, metavar="DB",
                        help="a layer whose PSNR is DB lower than the previous layer's is where the error "
                        f"jumps; when none is, the largest drop is reported (default: {DEFAULT_JUMP_DB:g})")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.add_argument("--plot", type=Path, metavar="PNG", help="write a plot of PSNR per layer along the "
                        "network, the jump and the worst layer marked")
    parser.set_defaults(run=run)
