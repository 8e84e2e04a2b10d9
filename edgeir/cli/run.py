"""``edgeir run``: restore images, folders and videos with any model edgeir loads, in this
process or on a Ray cluster (``--ray``)."""

from __future__ import annotations

import argparse
import sys

from edgeir.cli.common import add_color_option, add_out_option, add_tile_option
from edgeir.models.registry import TASKS

LOCAL = "local"
"""``--ray`` given without an address: a Ray instance on this machine for this run."""


def run(args: argparse.Namespace) -> int:
    from edgeir.errors import EdgeIRError

    ray_only = [flag for flag, value, default in (("--workers", args.workers, None), ("--gpus-per-worker",
                args.gpus_per_worker, 0.0), ("--frames-per-part", args.frames_per_part, None)) if value != default]
    if args.output is None:
        raise EdgeIRError("expected -o/--out for the restored frames (a file for one input, else a folder), "
                          "found none")
    if args.ray is None and ray_only:
        raise EdgeIRError(f"expected {ray_only[0]} with --ray, found it without: add --ray (a local Ray "
                          "instance) or --ray ADDRESS")
    if args.ray is not None:
        report, facts = _run_on_ray(args)
        print(f"restored {report.frames} frame(s) on Ray with {facts['backend']} ({facts['precision']}, "
              f"{facts['device']}) into {args.output} in {report.seconds:.1f} s"
              + (f" ({report.frames / report.seconds:.2f} frames/s)" if report.seconds else ""))
        for worker, frames in sorted(report.workers.items()):
            print(f"  worker {worker}: {frames} frame(s)")
        weights = facts.get("weights")
    else:
        report, weights = _run_here(args)
    if weights:
        print(f"  weights  {weights}")
    if report.skipped:
        print(f"  kept {len(report.skipped)} existing output(s) (--skip-existing)")
    from edgeir.data.io import is_video

    if any(is_video(path) for path in report.written):
        print("  note: restored videos carry no audio track (OpenCV writes pictures only); mux the "
              "source's audio back with e.g. ffmpeg -i OUT -i SOURCE -map 0:v -map 1:a? -c copy")
    if report.failed:
        from collections import Counter

        from edgeir.run import NOT_RESTORED, UNREADABLE

        kinds: Counter[str] = Counter()
        for path, reason in report.failed:  # one line per file, said once
            kind = reason.split(":")[0] if reason.startswith((UNREADABLE, NOT_RESTORED)) else NOT_RESTORED
            kinds[kind] += 1
            print(f"edgeir: skipped {path}: {reason}", file=sys.stderr)
        counts = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
        print(f"edgeir: error: {len(report.failed)} input(s) skipped ({counts}); {report.frames} frame(s) restored",
              file=sys.stderr)
        return 1
    return 0


def _run_here(args: argparse.Namespace):
    from edgeir.run import pending, plan_all, restore_files
    from edgeir.runtimes import load
    from edgeir.runtimes.restorer import Restorer

    # Inputs and outputs are checked before the model loads (seconds to minutes): an output
    # that is an input, or exists without --overwrite/--skip-existing, fails at once.
    pending(plan_all(args.input, args.output), args.overwrite, args.skip_existing)
    options = {"task": args.task} if args.task else {}
    if args.threads is not None:
        options["threads"] = args.threads
    runtime = load(args.model, args.device, **options)
    for note in runtime.info.notes:  # e.g. what is assumed of a model edgeir did not export
        print(f"edgeir: note: {note}", file=sys.stderr)
    # Frames are read as RGB; --bgr feeds them to the network in BGR order.
    restorer = Restorer(
        runtime, tile=args.tile, overlap=args.overlap, batch=args.batch,
        color=args.color,
    )
    report = restore_files(restorer, args.input, args.output, overwrite=args.overwrite,
                           skip_existing=args.skip_existing)
    info = runtime.info
    print(f"restored {report.frames} frame(s) with {info.backend} ({info.precision}, {info.device})"
          f" into {args.output}")
    return report, info.weights


def _run_on_ray(args: argparse.Namespace):
    from edgeir.distributed.batch import RayOptions, restore_on_ray
    from edgeir.distributed.worker import RestoreOptions

    options = RestoreOptions(
        model=args.model, tile=args.tile, overlap=args.overlap, batch=args.batch,
        color=args.color, device=args.device, task=args.task,
    )
    cluster = RayOptions(
        address=None if args.ray == LOCAL else args.ray, workers=args.workers, threads=args.threads or 1,
        gpus_per_worker=args.gpus_per_worker,
        **({"frames_per_part": args.frames_per_part} if args.frames_per_part is not None else {}),
    )
    return restore_on_ray(options, args.input, args.output, cluster, overwrite=args.overwrite,
                          skip_existing=args.skip_existing)


def register(commands: argparse._SubParsersAction) -> None:
    from edgeir.data.io import DEFAULT_MAX_PIXELS, MAX_PIXELS_ENV

    parser = commands.add_parser(
        "run",
        help="restore images, folders of images or videos with an exported model (here or on Ray)",
        description="Restore frames with any model edgeir can load (.onnx, .xml, .engine, .mlpackage, "
        "checkpoints, or convir-s for the demo weights in PyTorch). Frames of any size are padded "
        "to a legal size and cropped back. Outputs are written atomically: an output that exists "
        "is complete, so --skip-existing resumes an interrupted run. With --ray the work is spread "
        "over Ray workers (each loads the model once; videos are cut into frame ranges and joined "
        "in order); the outputs are the same as without it. An image over "
        f"{DEFAULT_MAX_PIXELS} pixels (8192x8192) is refused from its header before it is decoded; "
        f"the environment variable {MAX_PIXELS_ENV} sets another limit.",
    )
    parser.add_argument("model", help="model file: .onnx (with its manifest) or a checkpoint; or "
                        "convir-s, convir-b, convir-l for PyTorch with the default weights (the "
                        "demo weights for S motion-deblur, random initialisation elsewhere)")
    parser.add_argument("input", nargs="+", help="images, folders of images, or video files")
    add_out_option(parser, "output image or video for one input (matching it), else a folder (required)")
    add_tile_option(parser)
    parser.add_argument("--overlap", type=int, default=32, help="tile overlap in pixels (default: 32)")
    parser.add_argument("--batch", type=int, default=1, help="video frames or tiles per inference; "
                        "images of a folder run one at a time (default: 1)")
    add_color_option(parser)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: best available)")
    parser.add_argument("--task", choices=list(TASKS), default=None,
                        help="task of a checkpoint (a checkpoint file cannot say it)")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads of the runtime (ONNX Runtime, OpenVINO); with --ray, the CPUs "
                        "each worker reserves (default: the runtime's choice; 1 per worker on Ray)")
    existing = parser.add_mutually_exclusive_group()
    existing.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    existing.add_argument("--skip-existing", action="store_true",
                          help="keep existing outputs and restore the rest (resume an interrupted run)")
    ray = parser.add_argument_group("on a Ray cluster (pip install \"edgeir[ray]\")")
    ray.add_argument("--ray", nargs="?", const=LOCAL, default=None, metavar="ADDRESS",
                     help="restore on Ray: no ADDRESS starts Ray on this machine for this run; "
                     "'auto' or ray://HOST:PORT joins a cluster (paths must be visible to every node)")
    ray.add_argument("--workers", type=int, default=None,
                     help="workers, each holding the model once (default: the cluster's CPUs / --threads)")
    ray.add_argument("--gpus-per-worker", type=float, default=0.0,
                     help="GPUs each worker reserves, for CUDA runtimes (default: 0)")
    ray.add_argument("--frames-per-part", type=int, default=None,
                     help="video frames one worker restores at a time (default: 8)")
    parser.set_defaults(run=run)
