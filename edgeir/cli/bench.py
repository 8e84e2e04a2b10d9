"""``edgeir bench``: every target measured on one evaluation set, with reports."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edgeir.cli.common import (
    add_out_option,
    add_renamed,
    add_tile_option,
    parse_size,
    setup_logging,
)
from edgeir.data.sources import DATA_HELP
from edgeir.errors import EdgeIRError
from edgeir.models.registry import DEFAULT_TASK, DEFAULT_VARIANT, TASKS, VARIANTS

EVALUATION_DEFAULTS = {"variant": None, "task": None, "weights": None, "data": None, "size": None,
                       "full_frame": False, "limit": None, "y_channel": False}
"""Options that say what to evaluate: given by the bundle on the device, so refused with --bundle."""


def config_from(args: argparse.Namespace, out: Path) -> object:
    """The ``BenchConfig`` of ``edgeir bench`` and ``edgeir pack``: the same options, the same frames."""
    from edgeir.bench import BenchConfig
    from edgeir.bench.evalset import DEFAULT_SIZE, open_evalset
    from edgeir.models.registry import DEFAULT_TASK, DEFAULT_VARIANT

    task = args.task or DEFAULT_TASK
    size = None if args.full_frame else (args.size or DEFAULT_SIZE)
    evalset = open_evalset(args.data or "synthetic", task, size, args.limit)
    return BenchConfig(args.variant or DEFAULT_VARIANT, task, args.weights, evalset, out,
                       runs=getattr(args, "runs", 20), warmup=getattr(args, "warmup", 3),
                       batch=getattr(args, "batch", 1), tile=args.tile, device=getattr(args, "device", None),
                       y_channel=args.y_channel)


def run(args: argparse.Namespace) -> int:
    from edgeir.fileio import check_writable

    setup_logging()
    if args.out is not None:  # a read-only place fails now, not after the measurements
        check_writable(args.out)
    if args.compare:
        if args.max_psnr_drop is not None or args.min_psnr is not None:
            raise EdgeIRError("expected --max-psnr-drop and --min-psnr with a bench run, found them with "
                              "--compare (which measures nothing)")
        return _compare(args)
    from edgeir.bench.gate import bench_gates

    bench_gates(args.max_psnr_drop, args.min_psnr)  # a bad bound fails now, not after the run
    if args.out is None:
        raise EdgeIRError("expected --out REPORT_DIR for the reports, found none")
    if args.bundle:
        return _bench_bundle(args)
    from edgeir.bench import bench
    from edgeir.bench.harness import parse_targets

    targets = parse_targets(args.targets or "all")
    run_ = bench(config_from(args, args.out), targets, isolate=not args.in_process, resume=args.resume)
    return _print_run(args, run_)


def _compare(args: argparse.Namespace) -> int:
    from edgeir.bench.compare import compare_reports

    if args.out is None:
        raise EdgeIRError("expected --out DIR for the comparison, found none")
    for name, path in compare_reports(args.compare[0], args.compare[1], args.out).items():
        print(f"  {name:8s} {path}")
    return 0


def _bench_bundle(args: argparse.Namespace) -> int:
    from edgeir.bench.device import DeviceSettings, bench_bundle

    if args.resume:
        raise EdgeIRError("expected --resume with a host bench, found it with --bundle (a device bench "
                          "measures the bundle's targets afresh)")
    given = [k for k, default in EVALUATION_DEFAULTS.items() if getattr(args, k) != default]
    if given:
        raise EdgeIRError(f"expected no --{given[0].replace('_', '-')} with --bundle (the bundle holds what "
                          f"to evaluate: its frames, weights and settings), found it given")
    targets = None if args.targets in (None, "all") else [t.strip() for t in args.targets.split(",") if t.strip()]
    settings = DeviceSettings(runs=args.runs, warmup=args.warmup, batch=args.batch, tile=args.tile,
                              device=args.device)
    return _print_run(args, bench_bundle(args.bundle, args.out, settings, targets, isolate=not args.in_process))


def _print_run(args: argparse.Namespace, run_: object) -> int:
    from edgeir.bench.gate import bench_gates, over_budget
    from edgeir.bench.report import plain, print_table

    if args.json:
        print(json.dumps([{k: plain(v) for k, v in r.row().items()} for r in run_.results], indent=2))
    else:
        print_table(run_.results)
        for name, path in run_.reports.items():
            print(f"  {name:8s} {path}")
    for result in run_.failed:
        print(f"edgeir: error: {result.target} {result.status}", file=sys.stderr)
    missed = over_budget(run_.results, bench_gates(args.max_psnr_drop, args.min_psnr))
    for line in missed:
        print(f"edgeir: error: over budget: {line}", file=sys.stderr)
    return 1 if run_.failed or missed else 0


def add_evaluation_options(parser: argparse.ArgumentParser) -> None:
    """What to evaluate, shared by ``edgeir bench`` and ``edgeir pack`` (defaults are None so
    that ``--bundle`` can tell a given option from a default)."""
    parser.add_argument("--variant", choices=list(VARIANTS), default=None,
                        help=f"ConvIR size (default: {DEFAULT_VARIANT})")
    parser.add_argument("--task", choices=list(TASKS), default=None,
                        help=f"task preset; it sets the dynamic-filter dilations (default: {DEFAULT_TASK})")
    parser.add_argument("--weights", metavar="PATH|demo|random",
                        help="checkpoint (default: the demo weights for S motion-deblur, random "
                        "initialisation elsewhere)")
    parser.add_argument("--data", default=None, metavar="SPEC",
                        help=f"evaluation pairs: {DATA_HELP} (default: synthetic, its eval split)")
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument("--size", type=parse_size, metavar="HxW",
                       help="evaluation size: synthetic frames are made at it, folder frames "
                       "are centre-cropped to it (default: 256x256)")
    sizes.add_argument("--full-frame", action="store_true",
                       help="folder data: score whole frames (dynamic-shape exports)")
    add_tile_option(parser)
    parser.add_argument("--limit", type=int, default=None, metavar="N",
                        help="evaluate the first N pairs (synthetic default: 8)")
    parser.add_argument("--y-channel", action="store_true",
                        help="score PSNR and SSIM on the luma (BT.601 Y) instead of RGB")


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
    add_evaluation_options(parser)
    add_renamed(parser, "--target", "--targets", "targets")
    parser.add_argument("--targets", default=None,
                        help="all, or a comma list such as torch,onnx,openvino-int8 (default: all; "
                        "with --bundle: every target of the bundle)")
    parser.add_argument("--bundle", type=Path, metavar="DIR",
                        help="benchmark the artifacts of a bundle made by edgeir pack (on the device: "
                        "numpy and one runtime are enough; frames, weights and settings come from the "
                        "bundle, TensorRT engines are built once and cached in it)")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("A", "B"),
                        help="write one table and plot of two reports (report.json files or their "
                        "folders, e.g. the host's and the device's) into --out")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per target (default: 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs first (default: 3)")
    parser.add_argument("--batch", type=int, default=1,
                        help="also measure FPS with N frames per call (default: 1)")
    parser.add_argument("--device", default=None, help="runtime device (default: each runtime's best)")
    parser.add_argument("--in-process", action="store_true",
                        help="measure every target in this process (peak memory is then the "
                        "process's so far, not each target's own)")
    add_out_option(parser, "report folder (required); the reports are written after every target, and when "
                   "the run is stopped (Ctrl-C, SIGTERM)", dest="out", renamed=False, type=Path, metavar="DIR")
    parser.add_argument("--resume", action="store_true",
                        help="keep the targets the run in --out measured with the same settings (a "
                        "stopped run, or new targets added to a finished one) and measure the rest")
    parser.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    gate = parser.add_argument_group("a gate for CI (exit code 1 and the targets named when missed)")
    gate.add_argument("--max-psnr-drop", type=float, default=None, metavar="DB",
                      help="every measured target within DB of torch FP32's PSNR on the same frames")
    gate.add_argument("--min-psnr", type=float, default=None, metavar="DB",
                      help="every measured target at least DB PSNR against the sharp frames")
    parser.set_defaults(run=run)
