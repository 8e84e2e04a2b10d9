"""``edgeir run``: restore images, folders and videos with any model edgeir loads."""

from __future__ import annotations

import argparse
import sys

from edgeir.models.registry import TASKS


def run(args: argparse.Namespace) -> int:
    from edgeir.run import restore_files
    from edgeir.runtimes import load
    from edgeir.runtimes.restorer import Restorer

    runtime = load(args.model, args.device, **({"task": args.task} if args.task else {}))
    for note in runtime.info.notes:  # e.g. what is assumed of a model edgeir did not export
        print(f"edgeir: note: {note}", file=sys.stderr)
    # Frames are read as RGB; --bgr feeds them to the network in BGR order.
    restorer = Restorer(
        runtime, tile=args.tile, overlap=args.overlap, batch=args.batch,
        color="bgr" if args.bgr else "rgb",
    )
    report = restore_files(restorer, args.input, args.output, overwrite=args.overwrite)
    info = runtime.info
    print(f"restored {report.frames} frame(s) with {info.backend} ({info.precision}, {info.device})"
          f" into {args.output}")
    if info.weights:
        print(f"  weights  {info.weights}")
    if report.failed:
        for path, reason in report.failed:
            print(f"edgeir: skipped {path}: {reason}", file=sys.stderr)
        print(f"edgeir: error: {len(report.failed)} input(s) could not be read", file=sys.stderr)
        return 1
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "run",
        help="restore an image, a folder of images or a video with an exported model",
        description="Restore frames with any model edgeir can load (.onnx, checkpoints, or "
        "convir-s for the demo weights in PyTorch). "
        "Frames of any size are padded to a legal size and cropped back.",
    )
    parser.add_argument("model", help="model file: .onnx (with its manifest) or a checkpoint; or "
                        "convir-s, convir-b, convir-l for PyTorch with the default weights (the "
                        "demo weights for S motion-deblur, random initialisation elsewhere)")
    parser.add_argument("input", help="an image, a folder of images, or a video file")
    parser.add_argument("-o", "--output", required=True,
                     help="output image, folder or video (matching the input)")
    parser.add_argument("--tile", type=int, default=None,
                     help="restore frames larger than TILE in overlapping TILExTILE tiles")
    parser.add_argument("--overlap", type=int, default=32, help="tile overlap in pixels (default: 32)")
    parser.add_argument("--batch", type=int, default=1, help="video frames or tiles per inference; images of a folder run one at a time (default: 1)")
    parser.add_argument("--bgr", action="store_true",
                     help="the network was trained on BGR frames (e.g. loaded with OpenCV)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: best available)")
    parser.add_argument("--task", choices=list(TASKS), default=None,
                     help="task of a checkpoint (a checkpoint file cannot say it)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.set_defaults(run=run)
