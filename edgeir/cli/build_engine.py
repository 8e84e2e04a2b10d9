"""``edgeir build-engine``: the last step of a TensorRT export, on the device."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from edgeir.cli.common import add_out_option, add_renamed, parse_size, setup_logging


def run(args: argparse.Namespace) -> int:
    from edgeir.export.tensorrt import build_from_onnx
    from edgeir.manifest import manifest_path
    from edgeir.runtimes.tensorrt_engine import DEFAULT_WORKSPACE_MB

    setup_logging()
    engine_path, manifest = build_from_onnx(
        Path(args.onnx), Path(args.output) if args.output else None, args.shape, args.dynamic,
        args.batch, args.workspace if args.workspace is not None else DEFAULT_WORKSPACE_MB,
        Path(args.timing_cache) if args.timing_cache else None, overwrite=args.overwrite,
    )
    engine = manifest.details["engine"]
    summary = {"status": "ok", "artifact": str(engine_path), "onnx": str(args.onnx),
               "manifest": str(manifest_path(engine_path)),
               "precision": manifest.precision, "tensorrt": engine["tensorrt"], "gpu": engine["gpu"],
               "compute_capability": engine.get("compute_capability"), "build_seconds": engine["build_seconds"]}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"{manifest.target} ({manifest.precision}): {engine_path}")
        print(f"  manifest  {summary['manifest']}")
        capability = f" (compute {engine['compute_capability']})" if engine.get("compute_capability") else ""
        print(f"  built     TensorRT {engine['tensorrt']} on {engine['gpu']}{capability}, {engine['build_mode']}, "
              f"{engine['build_seconds']} s")
        print(f"  profile   {engine['profile']['min']} .. {engine['profile']['opt']} .. {engine['profile']['max']}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "build-engine",
        help="build a TensorRT engine from a TRT-ready ONNX (on the device that will run it)",
        description="Build the TensorRT engine of a graph written by edgeir export --target "
        "trt-fp16|trt-int8. Engines are tied to one GPU model and TensorRT version, so run this "
        "where the engine will run (a Jetson: JetPack's TensorRT). The graph's manifest gives "
        "the precision and the optimization profile; --size or --dynamic replace the profile.",
    )
    parser.add_argument("onnx", metavar="MODEL.trt.onnx", help="the TRT-ready graph")
    shapes = parser.add_mutually_exclusive_group()
    shapes.add_argument("--size", dest="shape", type=parse_size, metavar="HxW", help="a static profile (legal size)")
    add_renamed(shapes, "--shape", "--size", "shape", type=parse_size)
    shapes.add_argument("--dynamic", metavar="MIN:OPT:MAX",
                        help="a dynamic profile, e.g. 256x256:736x1280:1088x1920 (default: the export's)")
    parser.add_argument("--batch", type=int, default=1, help="largest batch of the profile (default: 1)")
    parser.add_argument("--workspace", type=int, default=None, metavar="MB",
                        help="builder workspace (default: 4096 MB)")
    parser.add_argument("--timing-cache", metavar="PATH",
                        help="timing cache to read and update (faster rebuilds on the same GPU)")
    add_out_option(parser, "engine path (default: MODEL.engine beside the graph)", metavar="PATH")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing engine and its manifest")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.set_defaults(run=run)
