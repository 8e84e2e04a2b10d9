"""``edgeir calib``: save calibration frames for INT8 exports (``--calib calib.npz``)."""

from __future__ import annotations

import argparse

from edgeir.calib.sources import DEFAULT_COUNT
from edgeir.cli.common import add_color_option, add_out_option, add_renamed, parse_size
from edgeir.models.registry import DEFAULT_TASK, TASKS

ASKED = -1
"""``--synthetic`` with no N: the count comes from --calib-frames or the default."""


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from edgeir.calib import from_images, from_pairs, from_synthetic, from_video
    from edgeir.errors import EdgeIRError

    synthetic = None if args.synthetic in (None, ASKED) else args.synthetic
    count = args.count if args.count is not None else (synthetic if synthetic is not None else DEFAULT_COUNT)
    if synthetic is not None and args.count is not None and synthetic != args.count:
        raise EdgeIRError(f"expected one frame count, found --synthetic {args.synthetic} and --calib-frames "
                          f"{args.count}")
    if args.output is None:
        raise EdgeIRError("expected -o/--out FILE.npz for the frames, found none")
    out = Path(args.output)
    if out.suffix != ".npz":
        raise EdgeIRError(f"expected an output path ending in .npz, found {out}")
    if out.exists() and not args.overwrite:
        raise EdgeIRError(f"expected a new output path, found an existing {out}: pass --overwrite to replace it")
    common = dict(size=args.size, count=count, seed=args.seed, color=args.color,
                  task=args.task)
    if args.images is not None:
        frames = from_images(args.images, **common)
    elif args.video is not None:
        frames = from_video(args.video, **common)
    elif args.pairs is not None:
        frames = from_pairs(args.pairs, **common)
    else:
        frames = from_synthetic(**common)
    frames.save(out)
    h, w = frames.size
    print(f"{len(frames)} calibration frame(s) of {h}x{w} from {frames.source}: {out}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "calib",
        help="collect INT8 calibration frames from images, a video or synthetic blur",
        description="Collect calibration frames for INT8 exports (pass the file to "
        "edgeir export --calib). Frames are prepared exactly as the runtime prepares them; "
        "larger frames give one seeded random crop each at --size, videos give evenly "
        "spaced frames. Use frames from your own camera where you can: INT8 ranges "
        "measured on them fit what the model will see.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--images", metavar="DIR", help="a folder of images (one crop per image)")
    source.add_argument("--video", metavar="FILE", help="a video (evenly spaced frames)")
    source.add_argument("--pairs", metavar="SPEC",
                        help="the blurred side of gopro:DIR or pairs:BLUR_DIR,SHARP_DIR")
    source.add_argument("--synthetic", nargs="?", type=int, const=ASKED, metavar="N",
                        help="N frames of the synthetic blur calib split (no download)")
    parser.add_argument("--task", choices=list(TASKS), default=DEFAULT_TASK,
                        help=f"task of the model to calibrate; it sets the legal sizes (default: {DEFAULT_TASK})")
    parser.add_argument("--size", type=parse_size, default=(256, 256), metavar="HxW",
                        help="crop size, the size you export at (default: 256x256)")
    parser.add_argument("--calib-frames", dest="count", type=int, default=None, metavar="N",
                        help=f"number of frames, as edgeir export --calib-frames (default: {DEFAULT_COUNT})")
    add_renamed(parser, "-n", "--calib-frames", "count", type=int)
    add_renamed(parser, "--count", "--calib-frames", "count", type=int)
    parser.add_argument("--seed", type=int, default=0, help="seed of crops and choices (default: 0)")
    add_color_option(parser)
    add_out_option(parser, "where to save (required)", metavar="FILE.npz")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.set_defaults(run=run)
