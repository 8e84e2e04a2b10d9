"""``edgeir train``: upstream's recipe, resumable, on synthetic or real pairs."""

from __future__ import annotations

import argparse
import json

from edgeir.cli.common import (
    add_model_options,
    add_out_option,
    add_renamed,
    parse_tile,
    setup_logging,
)
from edgeir.data.sources import DATA_HELP


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from edgeir.data.sources import open_pairs
    from edgeir.train import TrainConfig, center_crops, train

    setup_logging()
    if not isinstance(args.crop, int):
        from edgeir.errors import EdgeIRError

        raise EdgeIRError(f"expected a square training crop (--size N), found {args.crop[0]}x{args.crop[1]}")
    config = TrainConfig(
        variant=args.variant, task=args.task, data=args.data, steps=args.steps, crop=args.crop,
        batch=args.batch, lr=args.lr, warmup=args.warmup, clip_grad=args.clip_grad, loss=args.loss,
        harm_weight=args.harm_weight, harm_margin=args.harm_margin, seed=args.seed,
        val_every=args.val_every, val_frames=args.val_frames, save_every=args.save_every,
        bf16=args.bf16, device=args.device, init=args.init, bn_stats=args.bn_stats,
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


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "train",
        help="fine-tune ConvIR with upstream's recipe (synthetic blur needs no download)",
        description="Train or fine-tune ConvIR: upstream's L1 + 0.1 x FFT loss on three "
        "scales, Adam with warm-up and cosine decay, random crops and flips, a fixed seed, "
        "validation PSNR on held-out frames. The checkpoint is upstream's {'model': ...} "
        "layout with the resume state beside it; --resume continues it.",
    )
    add_model_options(parser)
    parser.add_argument("--data", default="synthetic", metavar="SPEC",
                       help=f"training pairs: {DATA_HELP} (default: synthetic)")
    parser.add_argument("--val-data", default="synthetic", metavar="SPEC",
                       help="held-out pairs for validation (default: the synthetic eval split)")
    parser.add_argument("--init", metavar="CKPT", help="start from these weights (fine-tuning)")
    parser.add_argument("--steps", type=int, default=1000, help="total optimizer steps (default: 1000)")
    parser.add_argument("--size", dest="crop", type=parse_tile, default=256, metavar="N",
                        help="side of the square training crops, a legal size (default: 256)")
    add_renamed(parser, "--crop", "--size", "crop", type=parse_tile)
    parser.add_argument("--batch", type=int, default=2, help="crops per step, at least 2 (default: 2)")
    parser.add_argument("--lr", type=float, default=1e-4, help="peak learning rate (default: 1e-4)")
    parser.add_argument("--warmup", type=int, default=50, help="linear warm-up steps (default: 50)")
    parser.add_argument("--loss", choices=["upstream", "l1"], default="upstream",
                       help="upstream (L1 of the three output scales + 0.1 x L1 of their FFTs, the "
                       "default) or l1 (the L1 terms alone)")
    parser.add_argument("--harm-weight", type=float, default=0.0, metavar="W",
                       help="add W x the dB by which a crop comes out further from its target than "
                       "the blurred input was (a hinge, per crop): fine-tunes away from making any "
                       "frame worse (default: 0, off)")
    parser.add_argument("--harm-margin", type=float, default=0.0, metavar="DB",
                       help="with --harm-weight: the gain a crop must reach before the hinge lets "
                       "go (default: 0, only crops made worse count)")
    parser.add_argument("--clip-grad", type=float, default=0.001, metavar="NORM",
                       help="clip the gradient norm to NORM, 0 for no clipping (default: 0.001, "
                       "upstream's value)")
    parser.add_argument("--seed", type=int, default=0, help="seed of data order, crops and flips")
    parser.add_argument("--val-every", type=int, default=100, help="validate every N steps (default: 100)")
    parser.add_argument("--val-frames", type=int, default=8, help="held-out frames to validate on (default: 8)")
    parser.add_argument("--save-every", type=int, default=50, help="save every N steps (default: 50)")
    parser.add_argument("--bf16", action="store_true",
                       help="bfloat16 autocast for the forward pass (about 2x faster on CPUs with "
                       "AVX-512 bf16); weights, loss and optimizer stay FP32")
    parser.add_argument("--device", default="cpu",
                       help="cpu, cuda or cuda:N (default: cpu); with --bf16 on a GPU, bfloat16 "
                       "autocast runs on the GPU")
    parser.add_argument("--bn-stats", choices=["frozen", "batch"], default="frozen",
                       help="BatchNorm statistics in training: frozen (running statistics, the "
                       "default: with small batches batch statistics of the globally pooled "
                       "features degenerate to +-1) or batch (upstream's, for large batches)")
    add_out_option(parser, "checkpoint to write (required)", dest="out", renamed=False, required=True,
                   metavar="CKPT")
    parser.add_argument("--resume", action="store_true", help="continue the checkpoint at --out")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.set_defaults(run=run)
