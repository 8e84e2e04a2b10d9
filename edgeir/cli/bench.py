"""``edgeir bench``: every target measured on one evaluation set, with reports."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edgeir.cli.common import add_model_options, parse_size, setup_logging
from edgeir.data.sources import DATA_HELP


def run(args: argparse.Namespace) -> int:
    from edgeir.bench import BenchConfig, bench
    from edgeir.bench.evalset import DEFAULT_SIZE, open_evalset
    from edgeir.bench.harness import parse_targets
    from edgeir.bench.report import plain, print_table

    setup_logging()
    targets = parse_targets(args.targets)
    size = None if args.full_frame else (args.size or DEFAULT_SIZE)
    evalset = open_evalset(args.data, args.task, size, args.limit)
    config = BenchConfig(args.variant, args.task, args.weights, evalset, args.out, runs=args.runs,
                         warmup=args.warmup, batch=args.batch, tile=args.tile, device=args.device,
                         y_channel=args.y_channel)
    run_ = bench(config, targets, isolate=not args.in_process)
    if args.json:
        print(json.dumps([{k: plain(v) for k, v in r.row().items()} for r in run_.results], indent=2))
    else:
        print_table(run_.results)
        for name, path in run_.reports.items():
            print(f"  {name:8s} {path}")
    for result in run_.failed:
        print(f"edgeir: error: {result.target} {result.status}", file=sys.stderr)
    return 1 if run_.failed else 0


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "bench",
        help="measure PSNR, PSNR drop, SSIM, latency and FPS of every target",
        description="Export (cached), load and run each target on one evaluation set through "
        "the Restorer, and report quality against ground truth and against torch FP32, latency "
        "percentiles (end to end, and on the device alone for GPU runtimes), FPS, peak memory and export time. A target whose runtime or device is "
        "missing is skipped with the reason; one that breaks is failed and the run goes on "
        "(exit code 1 when any failed). Reports: report.json, report.csv, report.md, "
        "psnr_vs_fps.png, samples.png in --out.",
    )
    add_model_options(parser)
    parser.add_argument("--weights", metavar="PATH|demo|random",
                        help="checkpoint (default: the demo weights for S motion-deblur, random "
                        "initialisation elsewhere)")
    parser.add_argument("--targets", default="all",
                        help="all, or a comma list such as torch,onnx,openvino-int8 (default: all)")
    parser.add_argument("--data", default="synthetic", metavar="SPEC",
                        help=f"evaluation pairs: {DATA_HELP} (default: synthetic, its eval split)")
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument("--size", type=parse_size, metavar="HxW",
                       help="evaluation size: synthetic frames are made at it, folder frames "
                       "are centre-cropped to it (default: 256x256)")
    sizes.add_argument("--full-frame", action="store_true",
                       help="folder data: score whole frames (dynamic-shape exports)")
    parser.add_argument("--tile", type=int, default=None, metavar="N",
                        help="restore frames larger than N in NxN tiles")
    parser.add_argument("--limit", type=int, default=None, metavar="N",
                        help="evaluate the first N pairs (synthetic default: 8)")
    parser.add_argument("--y-channel", action="store_true",
                        help="score PSNR and SSIM on the luma (BT.601 Y) instead of RGB")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per target (default: 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs first (default: 3)")
    parser.add_argument("--batch", type=int, default=1,
                        help="also measure FPS with N frames per call (default: 1)")
    parser.add_argument("--device", default=None, help="runtime device (default: each runtime's best)")
    parser.add_argument("--in-process", action="store_true",
                        help="measure every target in this process (peak memory is then the "
                        "process's so far, not each target's own)")
    parser.add_argument("--out", type=Path, required=True, help="report folder")
    parser.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    parser.set_defaults(run=run)
