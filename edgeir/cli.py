"""The ``edgeir`` command: parses arguments, calls the library, prints results.

User errors (``EdgeIRError``) print as one line on stderr with exit code 1; heavy
modules are imported inside the commands so that ``edgeir --help`` is instant.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence

from edgeir import __version__
from edgeir.errors import EdgeIRError
from edgeir.models.registry import DEFAULT_TASK, DEFAULT_VARIANT, SIZE_MULTIPLE, TASKS, VARIANTS


def parse_size(text: str) -> tuple[int, int]:
    """``HxW`` (or a single number for a square) as (height, width)."""
    match = re.fullmatch(r"\s*(\d+)\s*(?:[xX]\s*(\d+))?\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"expected a size like 256x256 (HxW), found {text!r}")
    h = int(match.group(1))
    w = int(match.group(2) or h)
    if h < 1 or w < 1:
        raise argparse.ArgumentTypeError(f"expected positive sides, found {text!r}")
    return h, w


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--variant", choices=list(VARIANTS), default=DEFAULT_VARIANT,
        help="ConvIR size: "
        + ", ".join(f"{v.name} = {v.num_res}" for v in VARIANTS.values())
        + f" residual blocks per stage (default: {DEFAULT_VARIANT})",
    )
    parser.add_argument(
        "--task", choices=list(TASKS), default=DEFAULT_TASK,
        help=f"task preset; it sets the dynamic-filter dilations (default: {DEFAULT_TASK})",
    )


def _cmd_info(args: argparse.Namespace) -> int:
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


def _setup_logging() -> None:
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("edgeir: %(message)s"))
    logger = logging.getLogger("edgeir")
    if not logger.handlers:
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def _cmd_export(args: argparse.Namespace) -> int:
    from edgeir.export import export

    _setup_logging()
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


def _cmd_run(args: argparse.Namespace) -> int:
    from edgeir.run import restore_files
    from edgeir.runtimes import load
    from edgeir.runtimes.restorer import Restorer

    runtime = load(args.model, args.device, **({"task": args.task} if args.task else {}))
    # Frames are read as RGB; --bgr feeds them to the network in BGR order.
    restorer = Restorer(
        runtime, tile=args.tile, overlap=args.overlap, batch=args.batch,
        color="bgr" if args.bgr else "rgb",
    )
    report = restore_files(restorer, args.input, args.output, overwrite=args.overwrite)
    info = runtime.info
    print(f"restored {report.frames} frame(s) with {info.backend} ({info.precision}, {info.device})"
          f" into {args.output}")
    if report.failed:
        for path, reason in report.failed:
            print(f"edgeir: skipped {path}: {reason}", file=sys.stderr)
        print(f"edgeir: error: {len(report.failed)} input(s) could not be read", file=sys.stderr)
        return 1
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from pathlib import Path

    from edgeir.data.sources import open_pairs
    from edgeir.train import TrainConfig, center_crops, train

    _setup_logging()
    config = TrainConfig(
        variant=args.variant, task=args.task, data=args.data, steps=args.steps, crop=args.crop,
        batch=args.batch, lr=args.lr, warmup=args.warmup, seed=args.seed,
        val_every=args.val_every, val_frames=args.val_frames, save_every=args.save_every,
        bf16=args.bf16, init=args.init,
    )
    config.check()
    pairs = open_pairs(args.data, "train", (args.crop, args.crop), args.task, seed=args.seed)
    held_out = open_pairs(args.val_data, "eval", (args.crop, args.crop), args.task,
                          length=args.val_frames)
    frames = center_crops(held_out, args.crop, args.val_frames)
    result = train(config, pairs, frames, Path(args.out), resume=args.resume)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        last = result["history"][0] if result["history"] else {}
        val = f", validation PSNR {last['val_psnr']:.2f} dB (blurred input {last['val_psnr_input']:.2f} dB)" \
            if "val_psnr" in last else ""
        print(f"trained {result['steps']} steps in {result['seconds']} s{val}: {result['checkpoint']}")
    return 0


TARGET_OPTIONS = ("opset",)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edgeir",
        description="Take trained ConvIR image-restoration networks to edge runtimes.",
    )
    parser.add_argument("--version", action="version", version=f"edgeir {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    info = commands.add_parser(
        "info",
        help="parameters, GMACs, legal input sizes and outputs of a ConvIR variant",
        description="Describe a ConvIR variant: parameter count, convolution GMACs at a "
        "size, the smallest legal input and the outputs it returns.",
    )
    _add_model_options(info)
    info.add_argument(
        "--size", type=parse_size, default=(256, 256), metavar="HxW",
        help="frame size for the GMAC count; an illegal size is counted at the padded "
        "size the runtime would use, and the output says so (default: 256x256)",
    )
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.set_defaults(run=_cmd_info)

    from edgeir.export.targets import TARGETS

    export = commands.add_parser(
        "export",
        help="export a ConvIR to a deployment target, verified against PyTorch",
        description="Export the export-friendly ConvIR to a target, check that the artifact "
        "computes what PyTorch computes, and write it atomically with a manifest beside it. "
        "Targets: " + "; ".join(f"{t.name}: {t.summary}" for t in TARGETS.values()),
    )
    export.add_argument("--target", required=True, choices=list(TARGETS), help="what to produce")
    _add_model_options(export)
    export.add_argument("--weights", metavar="PATH", help="checkpoint to export (default: random "
                        "initialisation, which the output and manifest say)")
    shapes = export.add_mutually_exclusive_group()
    shapes.add_argument("--shape", type=parse_size, metavar="HxW",
                        help="static input size (must be legal: see edgeir info)")
    shapes.add_argument(
        "--dynamic", nargs="?", const=None, metavar="MIN:OPT:MAX",
        help="dynamic batch/height/width (the default), e.g. 256x256:736x1280:1088x1920 or "
        "MIN:MAX; without a value: the task's smallest legal square to 1088x1920, opt 736x1280",
    )
    export.add_argument("--batch", type=int, default=1,
                        help="batch of a static graph; the batch a dynamic one is planned for "
                        "(default: 1)")
    export.add_argument("--opset", type=int, default=None,
                        help="ONNX opset (onnx targets; default: 17)")
    export.add_argument("-o", "--output", metavar="PATH",
                        help="artifact path (default: convir-VARIANT_TASK_TARGET.SUFFIX here)")
    export.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    export.set_defaults(run=_cmd_export)

    run = commands.add_parser(
        "run",
        help="restore an image, a folder of images or a video with an exported model",
        description="Restore frames with any model edgeir can load (.onnx, checkpoints). "
        "Frames of any size are padded to a legal size and cropped back.",
    )
    run.add_argument("model", help="model file: .onnx (with its manifest) or a checkpoint")
    run.add_argument("input", help="an image, a folder of images, or a video file")
    run.add_argument("-o", "--output", required=True,
                     help="output image, folder or video (matching the input)")
    run.add_argument("--tile", type=int, default=None,
                     help="restore frames larger than TILE in overlapping TILExTILE tiles")
    run.add_argument("--overlap", type=int, default=32, help="tile overlap in pixels (default: 32)")
    run.add_argument("--batch", type=int, default=1, help="frames or tiles per inference (default: 1)")
    run.add_argument("--bgr", action="store_true",
                     help="the network was trained on BGR frames (e.g. loaded with OpenCV)")
    run.add_argument("--device", default=None, help="cpu or cuda (default: best available)")
    run.add_argument("--task", choices=list(TASKS), default=None,
                     help="task of a checkpoint (a checkpoint file cannot say it)")
    run.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    run.set_defaults(run=_cmd_run)

    from edgeir.data.sources import DATA_HELP

    train = commands.add_parser(
        "train",
        help="fine-tune ConvIR with upstream's recipe (synthetic blur needs no download)",
        description="Train or fine-tune ConvIR: upstream's L1 + 0.1 x FFT loss on three "
        "scales, Adam with warm-up and cosine decay, random crops and flips, a fixed seed, "
        "validation PSNR on held-out frames. The checkpoint is upstream's {'model': ...} "
        "layout with the resume state beside it; --resume continues it.",
    )
    _add_model_options(train)
    train.add_argument("--data", default="synthetic", metavar="SPEC",
                       help=f"training pairs: {DATA_HELP} (default: synthetic)")
    train.add_argument("--val-data", default="synthetic", metavar="SPEC",
                       help="held-out pairs for validation (default: the synthetic eval split)")
    train.add_argument("--init", metavar="CKPT", help="start from these weights (fine-tuning)")
    train.add_argument("--steps", type=int, default=1000, help="total optimizer steps (default: 1000)")
    train.add_argument("--crop", type=int, default=256, help="square crop side, legal size (default: 256)")
    train.add_argument("--batch", type=int, default=2, help="crops per step, at least 2 (default: 2)")
    train.add_argument("--lr", type=float, default=1e-4, help="peak learning rate (default: 1e-4)")
    train.add_argument("--warmup", type=int, default=50, help="linear warm-up steps (default: 50)")
    train.add_argument("--seed", type=int, default=0, help="seed of data order, crops and flips")
    train.add_argument("--val-every", type=int, default=100, help="validate every N steps (default: 100)")
    train.add_argument("--val-frames", type=int, default=8, help="held-out frames to validate on (default: 8)")
    train.add_argument("--save-every", type=int, default=50, help="save every N steps (default: 50)")
    train.add_argument("--bf16", action="store_true",
                       help="bfloat16 autocast for the forward pass (about 2x faster on CPUs with "
                       "AVX-512 bf16); weights, loss and optimizer stay FP32")
    train.add_argument("--out", required=True, metavar="CKPT", help="checkpoint to write")
    train.add_argument("--resume", action="store_true", help="continue the checkpoint at --out")
    train.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    train.set_defaults(run=_cmd_train)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except EdgeIRError as exc:
        print(f"edgeir: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("edgeir: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
